"""Flask extensions, created unbound; ``create_app`` binds them."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints so that Alembic can alter and drop them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
mail = Mail()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
# Nothing is limited unless a route or blueprint declares a limit, with its own key (the
# management API counts by API key). The counts live where RATE_LIMIT_STORAGE_URL says; while
# its Redis is unreachable each process counts on its own, so an outage of Redis never keeps
# ops from posting an incident. Every limit of a request is checked, so that Retry-After can
# name the longest wait of those exceeded (stacked windows grow a back-off).
limiter = Limiter(get_remote_address, default_limits=[], strategy="moving-window",
                  headers_enabled=False, in_memory_fallback_enabled=True,
                  fail_on_first_breach=False)
