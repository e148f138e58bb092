"""Run the benchmarks: `python -m bench` (or `make bench`) runs all, `python -m bench mail` one."""

import sys

from . import mail, page

if __name__ == "__main__":
    chosen = sys.argv[1:] or ["page", "mail"]
    for name in chosen:
        {"page": page.main, "mail": mail.main}[name]()
