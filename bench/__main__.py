"""Run every benchmark: `python -m bench` (or `make bench`)."""

from . import page

if __name__ == "__main__":
    page.main()
