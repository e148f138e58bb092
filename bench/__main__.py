"""Run the benchmarks: `python -m bench` (or `make bench`) for the quick in-process ones;
`python -m bench mail` for the mail path; `python -m bench page --full` for the HTTP table,
write storm and growth on SQLite and PostgreSQL; `python -m bench page --smoke` for every
step at tiny sizes."""

import argparse

from . import mail, page, serving

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suite", nargs="?", choices=["page", "mail"],
                        help="the page path or the mail path benchmarks")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="the large data set (~25 minutes)")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, every step")
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--part", choices=[*serving.PARTS, "all"], default="all")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    parts = serving.PARTS if args.part == "all" else (args.part,)
    if args.suite == "mail":
        mail.main()
    elif args.full or args.smoke:
        serving.run(serving.FULL if args.full else serving.SMOKE, kinds, parts=parts)
    else:
        page.main()
