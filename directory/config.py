"""Safe defaults. Secrets and deployment settings come from instance/config.py or DIRECTORY_*."""

from datetime import timedelta


class Defaults:
    """Settings every deployment starts from; nothing here is secret."""

    # Computed in the factory when unset: SQLite in instance/, a random key kept in instance/.
    SECRET_KEY = None
    DATABASE_URL = None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Upgrade the schema to the newest Alembic revision when the app starts.
    AUTO_UPGRADE = True

    # Mail: "file" writes each message to instance/outbox/; "smtp" sends it.
    MAIL_BACKEND = "file"
    MAIL_OUTBOX = None  # default: instance/outbox
    MAIL_DEFAULT_SENDER = "Dry Needling Directory <no-reply@localhost>"
    MAIL_SERVER = "localhost"
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None

    UPLOAD_FOLDER = None  # default: instance/uploads

    # Accounts
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 — a method name, not a password
    CONFIRM_EMAIL_MAX_AGE = int(timedelta(days=3).total_seconds())
    RESET_PASSWORD_MAX_AGE = int(timedelta(hours=1).total_seconds())
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    # Evidence files may be 10 MB; a larger upload up to this size still gets a field message
    # (with the other typed values kept) instead of the bare "too large" page.
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    # Shown in the footer and e-mails; an absolute base for links in e-mails sent from the CLI.
    # Map tiles (the page works in full from the list when they cannot be reached).
    MAP_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    MAP_TILE_ATTRIBUTION = "© OpenStreetMap contributors"
    # Geocoding of practice locations: "offline" (the embedded gazetteer) or "nominatim".
    GEOCODER = "offline"
    GEOCODER_USER_AGENT = "dry-needling-directory"
    GEOCODER_TIMEOUT = 5

    # Seconds the search page keeps its list of languages practitioners speak.
    LANGUAGE_LIST_TTL = 300

    SITE_NAME = "Dry Needling Directory"
    # The public address, for links in e-mails sent from commands (no request to take it from).
    SITE_URL = "http://127.0.0.1:5000"
    SERVER_NAME = None
    PREFERRED_URL_SCHEME = "http"
