"""Safe defaults. Secrets and deployment settings come from instance/config.py or DIRECTORY_*."""

from datetime import timedelta


class Defaults:
    """Settings every deployment starts from; nothing here is secret."""

    # Computed in the factory when unset: SQLite in instance/, a random key kept in instance/.
    SECRET_KEY = None
    DATABASE_URL = None
    # Each process keeps a few connections (a sync worker uses one at a time; at most 5 each, so
    # hosts × workers × 5 stays under PostgreSQL's max_connections), tests each before use (a
    # database restart costs no request beyond its own moment) and renews them every 30 minutes.
    # Errors name the statement but never its values (an e-mail, a password hash) in the logs.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_size": 3, "max_overflow": 2,
                                 "pool_recycle": 1800, "pool_timeout": 10,
                                 "hide_parameters": True}
    # PostgreSQL: anonymous GETs of public pages read on autocommit connections that are not
    # tested before use (no BEGIN, ROLLBACK or SELECT 1 round trips; a request that finds its
    # connection dropped is run again once). Off: they read in a transaction like the rest.
    READ_WITHOUT_TRANSACTION = True
    # Read replicas of PostgreSQL (directory/replicas.py): URLs, as a list or one string with
    # commas. Anonymous GETs of public pages read from one that answered its last check (every
    # REPLICA_CHECK_SECONDS per process) at most REPLICA_MAX_LAG_SECONDS behind; a browser that
    # wrote reads from the primary for READ_YOUR_WRITES_SECONDS after.
    DATABASE_REPLICA_URLS = None
    REPLICA_MAX_LAG_SECONDS = 10
    REPLICA_CHECK_SECONDS = 5
    REPLICA_CONNECT_TIMEOUT = 2
    READ_YOUR_WRITES_SECONDS = 60
    # SQLite only: how much of the database file each connection reads through a memory map
    # instead of read() calls (0: none). Searches read a few hundred scattered index and table
    # pages; mapped, every worker process shares the operating system's copy of them.
    SQLITE_MMAP_SIZE = 2 * 1024**3
    # SQLite: the ring search finds the locations in a wide ring's box with an R*Tree
    # (directory/search/rtree.py). True: always from the (lat, lng) index, as the portable query
    # does on PostgreSQL (to compare the two: the tests, tools/bench_search.py --portable-box).
    SEARCH_PORTABLE_BOX = False
    # One JSON line per request on the "directory.request" logger; None: on, except in tests.
    REQUEST_LOG = None
    # Upgrade the schema to the newest Alembic revision and seed the reference data when the app
    # starts (or, with the database out of reach then, once it answers). None: on, except in
    # production, where the release step `flask --app wsgi db upgrade` does it before the start.
    AUTO_UPGRADE = None

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
    MAIL_TIMEOUT = 10  # seconds the sender waits for the SMTP server

    # The outbox (directory/outbox.py): a message not delivered is tried again after 30 s,
    # doubling up to 2 hours, 10 times in all (about 6 hours), then marked failed for the
    # administrators. A sender holds a message it is delivering for the lease; one that dies
    # meanwhile leaves it due again after that.
    OUTBOX_RETRY_FIRST = 30
    OUTBOX_RETRY_MAX = 2 * 3600
    OUTBOX_MAX_ATTEMPTS = 10
    OUTBOX_LEASE_SECONDS = 600
    # Deliver from a thread of the web process, every few seconds and after each commit that
    # queued mail. None: on, except in production and tests (there `flask --app wsgi worker`
    # runs beside gunicorn).
    OUTBOX_IN_PROCESS = None
    OUTBOX_POLL_SECONDS = 2
    # How often `flask --app wsgi worker` runs the credentials sweep (expiry, reminders).
    WORKER_SWEEP_SECONDS = 3600

    UPLOAD_FOLDER = None  # default: instance/uploads

    # Public pages made the same for every anonymous visitor (search, profiles, the API, FHIR,
    # HSDS) may be kept by browsers and shared caches (nginx) this many seconds: the longest a
    # delisted practitioner can still be seen there. 0: revalidate every time (ETag still saves
    # the body).
    PUBLIC_MAX_AGE = 60

    # Where uploaded files are kept (directory/storage.py): "local" (UPLOAD_FOLDER) or "s3", any
    # S3-compatible object store (AWS S3, MinIO, Ceph, Garage...). The bucket stays private: the
    # app reads each file and serves it to whoever may see it. The keys are secrets: set them in
    # instance/config.py or DIRECTORY_S3_ACCESS_KEY_ID / DIRECTORY_S3_SECRET_ACCESS_KEY (unset:
    # boto3's own lookup, e.g. an instance role). S3_PREFIX starts every object's key ("dnd/").
    STORAGE = "local"
    S3_BUCKET = None
    S3_ENDPOINT_URL = None  # None: AWS; else e.g. http://127.0.0.1:9000 for MinIO
    S3_REGION = None
    S3_ACCESS_KEY_ID = None
    S3_SECRET_ACCESS_KEY = None
    S3_PREFIX = ""
    S3_TIMEOUT = 5  # seconds to connect, and to wait for an answer
    S3_ATTEMPTS = 3  # tries of each call in all (boto3's "standard" retries)

    # Production: Secure cookies, and no start without an explicit SECRET_KEY (the same in every
    # process). Off by default so `make run` works over plain http on 127.0.0.1.
    PRODUCTION = False
    # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust
    # (werkzeug's ProxyFix); 0 = the app faces the clients itself.
    PROXY_FIX = 0
    # Host names the app answers besides SITE_URL's; a request with any other Host header gets a
    # 400 (the site's page). None: in production 127.0.0.1 and localhost (a health check on the
    # machine itself); outside production any host. A list, or names separated by commas
    # ("*": any host); a leading dot admits subdomains too (".example.org").
    TRUSTED_HOSTS = None
    # Shared state between processes (rate-limit counters), e.g. redis://127.0.0.1:6379/0.
    REDIS_URL = None

    # Rate limits (Flask-Limiter; "N per minute; M per hour"). Counters live in memory (one
    # process) unless RATELIMIT_STORAGE_URI or REDIS_URL names Redis, shared by every process.
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = None  # default: REDIS_URL when set, else memory://
    RATELIMIT_STRATEGY = "fixed-window"
    RATELIMIT_HEADERS_ENABLED = False  # Retry-After is sent on 429 answers only
    RATELIMIT_LOGIN = "10 per minute; 100 per hour"  # login forms sent, per client address
    # Failed logins for one e-mail address, counted alike whether or not an account has it:
    # from one client address, a short lockout of that address (the owner elsewhere can still
    # log in); from all addresses together, a cap on distributed guessing.
    RATELIMIT_LOGIN_ACCOUNT = "5 per 10 minutes; 20 per day"
    RATELIMIT_LOGIN_ACCOUNT_ANYWHERE = "200 per day"
    # A browser that presents a device cookie for the account (it logged in to it before) is
    # counted per device cookie instead of by the two limits above: guessing from elsewhere
    # cannot lock the owner out (OWASP device cookies, accounts/devices.py).
    RATELIMIT_LOGIN_DEVICE = "5 per 10 minutes; 20 per day"
    RATELIMIT_SIGNUP = "5 per 10 minutes; 20 per day"  # sign-up forms sent, per client address
    # Sign-ups for one e-mail address (each sends it a message), from anywhere.
    RATELIMIT_SIGNUP_ACCOUNT = "3 per hour; 10 per day"
    RATELIMIT_CONFIRM_RESEND = "3 per hour; 10 per day"  # new confirmation links, per account
    RATELIMIT_RESET_REQUEST = "5 per 10 minutes; 30 per day"  # reset requests, per address
    # Reset e-mails asked for one e-mail address: from one client address, and from all.
    RATELIMIT_RESET_ACCOUNT = "3 per hour"
    RATELIMIT_RESET_ACCOUNT_ANYWHERE = "10 per hour"
    RATELIMIT_RESET_USE = "20 per 10 minutes"  # reset-link pages, per client address
    RATELIMIT_VERIFY = "30 per minute; 500 per day"  # credential-code lookups, per address
    RATELIMIT_API = "120 per minute"  # every /api/v1 request, per client address
    # Enquiries sent from profiles in the last 24 hours: per client address, per reply
    # address, per practitioner (directory/enquiries.py); and the links one may hold.
    ENQUIRY_LIMITS = {"client": 5, "sender": 5, "practitioner": 20}
    ENQUIRY_MAX_LINKS = 2
    # Reports of wrong information that went through, per client address (a form sent back
    # with a field message costs nothing).
    RATELIMIT_REPORT = "5 per hour; 20 per day"

    # Strict-Transport-Security, sent only on requests that arrived over HTTPS.
    HSTS = "max-age=31536000; includeSubDomains"

    # Accounts
    PASSWORD_MIN_LENGTH = 12
    # scrypt N=2**15, r=8, p=3: one of OWASP's listed scrypt settings (werkzeug's own default,
    # p=1, is below them). Hashes made with anything else are redone at the next login.
    PASSWORD_HASH_METHOD = "scrypt:32768:8:3"  # noqa: S105 — a method name, not a password
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
    # Every other request body (forms, the API): 1 MB, far more than any form needs; a larger
    # one gets the 413 page. Only views marked @accepts_uploads (directory/security.py) take
    # MAX_CONTENT_LENGTH. Flask's MAX_FORM_MEMORY_SIZE (500 kB for one text field) and
    # MAX_FORM_PARTS (1,000 fields) apply to every form as well.
    MAX_FORM_BODY = 1024 * 1024
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
    # URLs in one sitemap file (the protocol's most, 50,000); more make /sitemap.xml an index.
    SITEMAP_URLS_PER_FILE = 50_000
    SERVER_NAME = None
    PREFERRED_URL_SCHEME = "http"
