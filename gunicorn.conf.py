"""gunicorn's settings, read from the working directory (`gunicorn wsgi:app` in the checkout).

Options on the command line (workers, bind, `--access-logfile -`) add to these.
"""

# The access log, when one is asked for, never holds a subscriber's signed link.
logger_class = "statuspage.accesslog.GunicornLogger"
