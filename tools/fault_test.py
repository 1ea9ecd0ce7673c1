"""Fault test: PostgreSQL restarted under load, and no acknowledged write lost.

Over the load test's database (tools/load_test.py, generated there when missing), with gunicorn
serving the app behind nginx as in tools/load_test.py (--direct: without nginx):
  - wrk runs on the search page (64 connections, 60 s);
  - a probe requests the search page every 0.25 s and records what came back and when;
  - writers act as real users through HTTP, with forms read from the pages (CSRF token, version):
    practitioners save their profile (each save appends a unique marker to the bio) and an
    administrator approves or rejects pending certifications made for this run; every write the
    app acknowledged (the redirect its view gives on success) is recorded;
  - at 20 s the database is restarted (`--restart-command`), or stopped for `--outage` seconds
    and started again (`--stop-command`, `--start-command`);
  - the mail worker (`flask --app wsgi worker`) delivers each decision's e-mail from the outbox to
    an SMTP sink of this process, which `--smtp-outage` takes off the network for a while.
Then it compares what was acknowledged with what is stored (lost must be 0), waits for the worker
to empty the outbox (at most `--drain-seconds`) and compares the e-mails the app recorded for the
run's decisions with what the sink received, by Message-ID (lost must be 0), and reports how long
the app took to answer searches again and wrk's errors before, during and after the outage.

    python tools/fault_test.py                     # restart at 20 s (pg_ctlcluster ... restart)
    python tools/fault_test.py --outage 10         # database down for 10 s from 20 s
    python tools/fault_test.py --smtp-outage 10    # also the mail server away from 5 s to 15 s
"""

from __future__ import annotations

import argparse
import collections
import re
import secrets
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import loadkit
import requests
from sqlalchemy import insert, select, update

from directory.credentials.services import DECISION_SUBJECTS
from directory.extensions import db
from directory.models import Certification, OutboxMessage, Practitioner, TrainingProgram, User
from directory.models.base import utcnow
from tests.pages import form_values

CLUSTER = "pg_ctlcluster --skip-systemctl-redirect 15 load"
PENDING_PER_RUN = 400
TIMEOUT = 30  # seconds a writer waits for one response


class _Page:
    """What tests/pages.py reads (a Flask response's get_data), over a requests response."""

    def __init__(self, response: requests.Response) -> None:
        self._text = response.text

    def get_data(self, as_text: bool = True) -> str:
        return self._text


@dataclass
class Accounts:
    """The accounts the writers use and the certifications waiting for the administrator."""

    password: str
    admin_email: str
    admin_id: int
    writers: list[tuple[str, int]]  # (e-mail, practitioner id)
    pending: list[int]
    codes: dict[str, int]  # public code -> certification id (the approval e-mail's link has it)
    started: object  # when set_up began (datetime): this run's e-mails are queued after it


def set_up(url: str, workdir: Path, writers: int, run: str) -> Accounts:
    """Writer accounts (made once, password and bio reset each run) and new pending certs."""
    from directory.accounts.passwords import hash_password

    app = loadkit.make_app(url, workdir)
    password = secrets.token_urlsafe(16)
    with app.app_context():
        hashed = hash_password(password)
        now = started = utcnow()

        def account(email: str, role: str) -> User:
            user = db.session.scalar(select(User).where(User.email == email))
            if user is None:
                user = User(email=email, role=role, password_hash=hashed, is_active=True,
                            email_confirmed_at=now)
                db.session.add(user)
            user.password_hash = hashed
            return user

        admin = account("fault-admin@example.com", "admin")
        practitioners = []
        for k in range(writers):
            user = account(f"fault-writer-{k}@example.com", "practitioner")
            if user.practitioner is None:
                user.practitioner = Practitioner(full_name=f"Fault Writer {k}",
                                                 slug=f"fault-writer-{k}")
            user.practitioner.profession = "physiotherapist"
            user.practitioner.bio = f"Fault test run {run}."
            practitioners.append(user)
        db.session.commit()
        program = db.session.scalar(select(TrainingProgram).order_by(TrainingProgram.id))
        rows = [{"practitioner_id": practitioners[i % writers].practitioner.id,
                 "program_id": program.id, "submitted_name": program.name,
                 "match_outcome": "chosen", "certificate_number": f"FAULT-{run}-{i}",
                 "status": "pending", "reason": "", "submitted_at": now,
                 "public_code": secrets.token_urlsafe(16), "version": 1,
                 "created_at": now, "updated_at": now} for i in range(PENDING_PER_RUN)]
        codes = dict(db.session.execute(
            insert(Certification).returning(Certification.public_code, Certification.id),
            rows).all())
        db.session.commit()
        accounts = Accounts(password, admin.email, admin.id,
                            [(u.email, u.practitioner.id) for u in practitioners],
                            sorted(codes.values()), codes, started)
        db.engine.dispose()
    return accounts


@dataclass
class Log:
    """What one writer did: acknowledged writes, and failures by kind."""

    acknowledged: list = field(default_factory=list)
    failed: collections.Counter = field(default_factory=collections.Counter)
    attempts: int = 0
    first_failure: float | None = None
    last_failure: float | None = None

    def fail(self, kind: str, at: float) -> None:
        self.failed[kind] += 1
        self.first_failure = self.first_failure if self.first_failure is not None else at
        self.last_failure = at


def styled(response: requests.Response) -> bool:
    """The site's own error page (not gunicorn's bare "Internal Server Error")."""
    return 'class="panel error-page"' in response.text


def kind(response: requests.Response) -> str:
    """A failed answer in a few words: its status, and whether the page was the site's."""
    return f"{response.status_code}{'' if styled(response) else ' plain'}"


def log_in(base: str, email: str, password: str) -> requests.Session:
    """A browser session logged in through the login form."""
    session = requests.Session()
    page = session.get(base + "/account/login", timeout=TIMEOUT)
    data = form_values(_Page(page)) | {"email": [email], "password": [password]}
    response = session.post(base + "/account/login", data=data, allow_redirects=False,
                            timeout=TIMEOUT)
    if response.status_code != 302:
        raise SystemExit(f"could not log in as {email}: {response.status_code}")
    return session


def open_form(session: requests.Session, address: str, log: Log, t0: float):
    """The page with the form to send, or None (the failure logged, after a short pause)."""
    try:
        page = session.get(address, timeout=TIMEOUT)
    except requests.RequestException:
        log.fail("form not loaded (no answer)", time.monotonic() - t0)
        time.sleep(0.2)
        return None
    if page.status_code != 200:
        log.fail(f"form not loaded ({kind(page)})", time.monotonic() - t0)
        time.sleep(0.2)
        return None
    return page


def profile_writer(base: str, session: requests.Session, k: int, stop: threading.Event,
                   log: Log, t0: float) -> None:
    """Save the profile again and again, appending a new marker to the bio each time."""
    seq = 0
    while not stop.is_set():
        page = open_form(session, base + "/profile/edit", log, t0)
        if page is None:
            continue
        seq += 1
        data = form_values(_Page(page))
        data["bio"] = [f"{data['bio'][0]} w{k}s{seq}"]
        log.attempts += 1
        try:
            response = session.post(base + "/profile/edit", data=data, allow_redirects=False,
                                    timeout=TIMEOUT)
        except requests.RequestException:
            log.fail("save: no answer", time.monotonic() - t0)
            continue
        if response.status_code == 302 and response.headers["Location"].endswith("/dashboard"):
            log.acknowledged.append(seq)
        else:
            log.fail(f"save: {kind(response)}", time.monotonic() - t0)
            time.sleep(0.2)


def decision_writer(base: str, session: requests.Session, pending: list[int],
                    stop: threading.Event, log: Log, t0: float) -> None:
    """Approve or reject (alternately) each pending certification once."""
    for n, cert_id in enumerate(pending):
        if stop.is_set():
            break
        address = f"{base}/admin/certifications/{cert_id}"
        page = open_form(session, address, log, t0)
        if page is None:
            continue
        action = "approve" if n % 2 == 0 else "reject"
        data = form_values(_Page(page)) | {"action": [action]}
        if action == "reject":
            # The rejection e-mail quotes the reason: it names the certification.
            data["reason"] = [f"Fault test: the certificate could not be read "
                              f"(certification {cert_id})."]
        log.attempts += 1
        try:
            response = session.post(address, data=data, allow_redirects=False,
                                    timeout=TIMEOUT)
        except requests.RequestException:
            log.fail("decision: no answer", time.monotonic() - t0)
            continue
        if response.status_code == 302 and response.headers["Location"].endswith("/queue"):
            log.acknowledged.append((cert_id, "verified" if action == "approve" else "rejected"))
        else:
            log.fail(f"decision: {kind(response)}", time.monotonic() - t0)
            time.sleep(0.2)


def probe(base: str, stop: threading.Event, samples: list, t0: float) -> None:
    """The search page every 0.25 s: (seconds since start when answered, status or error,
    the site's error page?, says "try again"?, seconds it took)."""
    path = loadkit.SEARCH_PATH % (40.75, -73.99)
    while not stop.is_set():
        started = time.monotonic()
        try:
            response = requests.get(base + path, timeout=TIMEOUT)
            status, nice = response.status_code, styled(response)
            again = "try again" in response.text.lower() and status != 200
        except requests.RequestException as exc:
            status, nice, again = type(exc).__name__, False, False
        now = time.monotonic()
        samples.append((now - t0, status, nice, again, now - started))
        time.sleep(max(0.0, 0.25 - (now - started)))


def watch_database(url: str, stop: threading.Event, seen: list, t0: float) -> None:
    """Connect to the database every 0.1 s: (seconds since start, accepted?) at each change."""
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    state = None
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            up = True
        except psycopg.Error:
            up = False
        if up != state:
            seen.append((time.monotonic() - t0, up))
            state = up
        time.sleep(0.1)


def run_command(command: str) -> None:
    """Run a cluster command (restart, stop or start), failing loudly."""
    subprocess.run(shlex.split(command), check=True, capture_output=True, text=True)


def verify(url: str, workdir: Path, accounts: Accounts, profile_logs: list[Log],
           decisions: Log) -> dict:
    """Compare what was acknowledged with what is stored."""
    app = loadkit.make_app(url, workdir)
    with app.app_context():
        lost_saves = []
        for (_, practitioner_id), log in zip(accounts.writers, profile_logs, strict=True):
            bio = db.session.scalar(select(Practitioner.bio)
                                    .where(Practitioner.id == practitioner_id))
            stored = {int(s) for s in re.findall(r"w\d+s(\d+)", bio)}
            lost_saves += [(practitioner_id, s) for s in log.acknowledged if s not in stored]
        statuses = dict(db.session.execute(
            select(Certification.id, Certification.status)
            .where(Certification.id.in_(accounts.pending))).all())
        reviewers = dict(db.session.execute(
            select(Certification.id, Certification.reviewed_by_id)
            .where(Certification.id.in_(accounts.pending))).all())
        lost_decisions = [(cert_id, status) for cert_id, status in decisions.acknowledged
                          if statuses.get(cert_id) != status
                          or reviewers.get(cert_id) != accounts.admin_id]
        # Leave nothing pending for the next run's administrator queue.
        db.session.execute(update(Certification).where(Certification.id.in_(accounts.pending),
                                                       Certification.status == "pending")
                           .values(status="rejected", reason="Fault test left it undecided.",
                                   reviewed_by_id=accounts.admin_id, reviewed_at=utcnow()))
        db.session.commit()
        db.engine.dispose()
    return {"lost_saves": lost_saves, "lost_decisions": lost_decisions}


def smtp_outage(sink, at: float, seconds: float, t0: float, times: list) -> None:
    """Take the SMTP sink off the network at `at` s for `seconds` (connections refused), then
    start it again on the same port; records (down, up) in seconds since t0."""
    time.sleep(max(0.0, at - (time.monotonic() - t0)))
    sink.stop()
    down = time.monotonic() - t0
    loadkit.log("SMTP sink stopped")
    time.sleep(seconds)
    sink.start()
    times.append((down, time.monotonic() - t0))
    loadkit.log("SMTP sink started again")


@dataclass
class Mail:
    """The run's decision e-mails: what the app recorded and what the sink received."""

    rows: list  # (message_id, to, subject, body, status, attempts) of this run's outbox rows
    received: collections.Counter  # Message-ID -> times the sink accepted it
    texts: dict  # Message-ID -> the text of the first copy the sink accepted
    drained_after: float | None  # seconds after the load ended that all were received


def this_runs_mail(accounts: Accounts) -> list:
    """The decision e-mails queued for the run's writers since set-up (inside an app context)."""
    emails = [email for email, _ in accounts.writers]
    return db.session.execute(
        select(OutboxMessage.message_id, OutboxMessage.to_address, OutboxMessage.subject,
               OutboxMessage.body, OutboxMessage.status, OutboxMessage.attempts)
        .where(OutboxMessage.kind == "certification_decision",
               OutboxMessage.to_address.in_(emails),
               OutboxMessage.created_at >= accounts.started)
        .order_by(OutboxMessage.id)).all()


def received_mail(sink) -> tuple[collections.Counter, dict]:
    """What the sink accepted: times per Message-ID, and each message's text."""
    messages = sink.messages()
    counts = collections.Counter(str(m["Message-ID"]).strip() for m in messages)
    texts = {}
    for m in messages:
        texts.setdefault(str(m["Message-ID"]).strip(), m.get_content())
    return counts, texts


def drain(url: str, workdir: Path, accounts: Accounts, sink, seconds: float) -> Mail:
    """Wait (at most `seconds`) until the sink has received every e-mail recorded for the run,
    checking once a second; then what was recorded and received."""
    app = loadkit.make_app(url, workdir)
    started = time.monotonic()
    drained = None
    with app.app_context():
        while True:
            try:
                rows = this_runs_mail(accounts)
            finally:
                db.session.remove()
            received, texts = received_mail(sink)
            if all(row.message_id in received for row in rows):
                drained = time.monotonic() - started
                break
            if time.monotonic() - started > seconds:
                break
            time.sleep(1)
        db.engine.dispose()
    return Mail(rows, received, texts, drained)


def attribute(text: str, codes: dict[str, int]) -> int | None:
    """Which certification a decision e-mail is about: the rejection quotes the reason (which
    names it), the approval links to its public code."""
    match = re.search(r"\(certification (\d+)\)", text)
    if match:
        return int(match.group(1))
    return next((codes[t] for t in re.findall(r"[A-Za-z0-9_-]{16,}", text) if t in codes), None)


def count_mail(mail: Mail, accounts: Accounts, decisions: Log) -> dict:
    """Recorded, delivered, lost, delivered twice; and each acknowledged decision's e-mail."""
    rows = mail.rows
    delivered = [r for r in rows if r.message_id in mail.received]
    by_cert = collections.defaultdict(list)
    for row in rows:
        cert = attribute(row.body or mail.texts.get(row.message_id, ""), accounts.codes)
        by_cert[cert].append(row)
    acknowledged = dict(decisions.acknowledged)
    status_of = {"verified": DECISION_SUBJECTS["verified"],
                 "rejected": DECISION_SUBJECTS["rejected"]}
    missing = [cert for cert, status in acknowledged.items()
               if not any(r.subject.startswith(status_of[status]) for r in by_cert.get(cert, ()))]
    return {
        "recorded": len(rows), "delivered": len(delivered),
        "lost": [r.message_id for r in rows if r.message_id not in mail.received],
        "twice": [r.message_id for r in rows if mail.received[r.message_id] > 1],
        "acknowledged_without_mail": missing,
        "for_unacknowledged": sum(len(v) for k, v in by_cert.items()
                                  if k is not None and k not in acknowledged),
        "more_than_one_per_decision": [k for k, v in by_cert.items()
                                       if k is not None and len(v) > 1],
        "unattributed": len(by_cert.get(None, ())),
        "statuses": dict(collections.Counter(str(r.status) for r in rows)),
        "delivered_not_marked": sum(1 for r in delivered if r.status != "sent"),
        "retried": sum(1 for r in rows if r.attempts > 1),
        "max_attempts": max((r.attempts for r in rows), default=0),
        "drained_after": mail.drained_after,
    }


def main() -> None:
    """Set up, run wrk + writers + probe, fault the database at 20 s, then compare."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=loadkit.DEFAULT_DATABASE_URL)
    parser.add_argument("--size", type=int, default=loadkit.DEFAULT_SIZE,
                        help="generated practitioners (as for tools/load_test.py)")
    parser.add_argument("--workdir", type=Path, default=loadkit.DEFAULT_WORKDIR)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--fault-at", type=float, default=20.0, help="seconds into the run")
    parser.add_argument("--restart-command", default=f"{CLUSTER} restart",
                        help="restarts the database server")
    parser.add_argument("--outage", type=float, default=0,
                        help="instead of a restart: stop, wait this many seconds, start")
    parser.add_argument("--stop-command", default=f"{CLUSTER} stop")
    parser.add_argument("--start-command", default=f"{CLUSTER} start")
    parser.add_argument("--writers", type=int, default=2, help="practitioners saving profiles")
    parser.add_argument("--direct", action="store_true",
                        help="everything straight to gunicorn, without nginx in front")
    parser.add_argument("--smtp-outage", type=float, default=0,
                        help="take the SMTP sink down for this many seconds (mail is retried)")
    parser.add_argument("--smtp-outage-at", type=float, default=5.0,
                        help="seconds into the run the SMTP sink goes down")
    parser.add_argument("--drain-seconds", type=float, default=60,
                        help="how long to wait after the load for the outbox to be delivered")
    args = parser.parse_args()

    url = loadkit.database_url(args.database_url)
    args.workdir.mkdir(parents=True, exist_ok=True)
    loadkit.prepare(url, args.size, args.workdir)
    run = secrets.token_hex(3)
    accounts = set_up(url, args.workdir, args.writers, run)
    places = loadkit.cities(10)
    script = loadkit.wrk_script(args.workdir, "fault-page", loadkit.SEARCH_PATH, places)
    fault = (f"stop ({args.stop_command}), {args.outage:g} s down, start ({args.start_command})"
             if args.outage else f"restart ({args.restart_command})")
    print(f"Machine: {loadkit.machine()}; {args.size:,} practitioners; wrk {args.connections} "
          f"connections on the search page for {args.seconds} s; at {args.fault_at:g} s: "
          f"{fault}; {args.writers} practitioners saving profiles, 1 administrator deciding"
          + (f"; SMTP sink down from {args.smtp_outage_at:g} s for {args.smtp_outage:g} s"
             if args.smtp_outage else "") + ".")

    with loadkit.serve(url, args.workdir, args.workers, direct=args.direct) as served:
        base = served.base
        print(f"Server: {' '.join(served.command[1:])}; proxy: "
              f"{loadkit.describe_front(args.direct)}; mail worker: "
              f"{' '.join(loadkit.WORKER_COMMAND[1:])} (SMTP sink on {served.sink.port})")
        stop = threading.Event()
        profile_logs = [Log() for _ in accounts.writers]
        decisions, samples, database = Log(), [], []
        sessions = [log_in(base, email, accounts.password) for email, _ in accounts.writers]
        admin = log_in(base, accounts.admin_email, accounts.password)
        t0, wall0 = time.monotonic(), time.time()
        threads = [threading.Thread(target=profile_writer, args=(
            base, session, k, stop, profile_logs[k], t0)) for k, session in enumerate(sessions)]
        threads.append(threading.Thread(target=decision_writer, args=(
            base, admin, accounts.pending, stop, decisions, t0)))
        threads.append(threading.Thread(target=probe, args=(base, stop, samples, t0)))
        threads.append(threading.Thread(target=watch_database, args=(url, stop, database, t0)))
        smtp_down: list = []
        if args.smtp_outage:
            threads.append(threading.Thread(target=smtp_outage, args=(
                served.sink, args.smtp_outage_at, args.smtp_outage, t0, smtp_down)))
        for thread in threads:
            thread.start()
        wrk_result: list[dict] = []
        wrk = threading.Thread(target=lambda: wrk_result.append(loadkit.run_wrk(
            base, script, args.seconds, args.connections)))
        wrk.start()
        time.sleep(args.fault_at)
        fault_started = time.monotonic() - t0
        loadkit.log("faulting the database")
        if args.outage:
            run_command(args.stop_command)
            time.sleep(args.outage)
            run_command(args.start_command)
        else:
            run_command(args.restart_command)
        loadkit.log(f"fault command done after {time.monotonic() - t0 - fault_started:.1f} s")
        wrk.join()
        stop.set()
        for thread in threads:
            thread.join()
        loadkit.log(f"waiting (at most {args.drain_seconds:g} s) for the outbox to be delivered")
        mail = drain(url, args.workdir, accounts, served.sink, args.drain_seconds)
        worker = ("running" if served.worker.poll() is None
                  else f"EXITED with {served.worker.returncode}")
    result = wrk_result[0]
    (args.workdir / "wrk-fault.txt").write_text(result["raw"])
    checked = verify(url, args.workdir, accounts, profile_logs, decisions)
    checked["mail"] = count_mail(mail, accounts, decisions)
    checked["mail"].update(worker=worker, smtp_down=smtp_down)
    report(args, Timeline(fault_started, database, samples, result, wall0), profile_logs,
           decisions, checked)


@dataclass
class Timeline:
    """When things happened, in seconds since the writers and wrk started."""

    fault: float  # the fault command began
    database: list  # (t, accepted connections?) at each change seen by watch_database
    samples: list  # the probe's answers
    wrk: dict
    wall0: float  # the wall-clock time of t = 0 (wrk counts per wall-clock second)

    def database_down(self) -> tuple[float | None, float | None]:
        """When the database first refused a connection, and when it accepted one again."""
        down = next((t for t, up in self.database if not up), None)
        back = next((t for t, up in self.database if up and down is not None and t > down), None)
        return down, back

    def wrk_seconds(self) -> list[tuple[float, int, int]]:
        """wrk's answers per second: (t, ok, not ok)."""
        return [(second - self.wall0, ok, bad)
                for second, (ok, bad) in sorted(self.wrk["seconds"].items())]


def report(args, timeline: Timeline, profile_logs, decisions, checked) -> None:
    """The Markdown summary, and the probe's and wrk's timelines in the work directory."""
    down, back = timeline.database_down()
    samples = timeline.samples
    failures = [s for s in samples if s[1] != 200]
    first_bad = failures[0] if failures else None
    recovered = next((s for s in samples if first_bad and s[0] > first_bad[0] and s[1] == 200),
                     None)
    late = [s for s in failures if recovered and s[0] > recovered[0]]
    seconds = timeline.wrk_seconds()
    bad_seconds = [t for t, _, bad in seconds if bad]
    edge = (back if back is not None else timeline.fault) + 1  # wrk counts whole seconds
    before = sum(bad for t, _, bad in seconds if t + 1 <= timeline.fault)
    after = sum(bad for t, _, bad in seconds if t >= edge)
    result = timeline.wrk
    print()
    print("| | |\n|---|---|")
    print(f"| fault command | at {timeline.fault:.1f} s |")
    if down is None:
        print("| database refused connections | never (watched every 0.1 s) |")
    else:
        print(f"| database refused connections | {down:.1f} s → {back or 0:.1f} s "
              f"({(back or down) - down:.1f} s) |")
    if first_bad is None:
        print("| search page (probe every 0.25 s) | no failed answer |")
    else:
        print(f"| search page (probe every 0.25 s): first failed answer | {first_bad[0]:.1f} s |")
        if recovered:
            gap = f"{recovered[0] - back:+.1f} s after the database accepted connections" \
                if back is not None else ""
            print(f"| search page: first successful answer after it | {recovered[0]:.1f} s "
                  f"({gap}) |")
        print(f"| search page: failed answers (after recovery) | {len(failures)} ({len(late)}); "
              f"{dict(collections.Counter(s[1] for s in failures))}, the site's error page "
              f"{sum(1 for s in failures if s[2])}, saying \"try again\" "
              f"{sum(1 for s in failures if s[3])} |")
    print(f"| wrk | {result['requests']:,} requests, {result['rps']:.1f}/s, "
          f"p50 {result['latency'].get('50', 0):.0f} ms, "
          f"p99 {result['latency'].get('99', 0):.0f} ms |")
    span = f"{bad_seconds[0]:.0f}–{bad_seconds[-1] + 1:.0f} s" if bad_seconds else "none"
    print(f"| wrk non-2xx answers: before the fault / from the fault until 1 s after the "
          f"database was back / later | {before} / {result['non_2xx_3xx'] - before - after} / "
          f"{after} (seconds with errors: {span}) |")
    sockets = ", ".join(f"{k} {v}" for k, v in result["socket_errors"].items() if v) or "0"
    print(f"| wrk socket errors | {sockets} |")
    saves = sum(len(log.acknowledged) for log in profile_logs)
    attempts = sum(log.attempts for log in profile_logs)
    failed = collections.Counter()
    for log in profile_logs:
        failed.update(log.failed)
    print(f"| profile saves sent / acknowledged / not acknowledged | {attempts} / {saves} / "
          f"{attempts - saves} (failures: {dict(failed) or 'none'}) |")
    print(f"| decisions sent / acknowledged / not acknowledged | {decisions.attempts} / "
          f"{len(decisions.acknowledged)} / {decisions.attempts - len(decisions.acknowledged)} "
          f"(failures: {dict(decisions.failed) or 'none'}) |")
    print(f"| **acknowledged writes lost** | **{len(checked['lost_saves'])} profile saves, "
          f"{len(checked['lost_decisions'])} decisions** |")
    mail = checked["mail"]
    print(f"| decision e-mails recorded / delivered / **lost** / delivered twice | "
          f"{mail['recorded']} / {mail['delivered']} / **{len(mail['lost'])}** / "
          f"{len(mail['twice'])} |")
    print(f"| acknowledged decisions without their e-mail recorded | "
          f"{len(mail['acknowledged_without_mail'])} (e-mails for decisions saved but not "
          f"acknowledged: {mail['for_unacknowledged']}; unattributed: {mail['unattributed']}; "
          f"decisions with more than one: {len(mail['more_than_one_per_decision'])}) |")
    drained = (f"{mail['drained_after']:.0f} s after the load ended"
               if mail["drained_after"] is not None
               else f"NOT within {args.drain_seconds:g} s")
    down = "; ".join(f"SMTP sink down {a:.1f} → {b:.1f} s" for a, b in mail["smtp_down"])
    print(f"| outbox delivered | {drained}; rows {mail['statuses']}; retried "
          f"{mail['retried']} (at most {mail['max_attempts']} attempts); delivered but not "
          f"marked sent {mail['delivered_not_marked']}{'; ' + down if down else ''}; "
          f"worker {mail['worker']} at the end |")
    around = [(t, ok, bad) for t, ok, bad in seconds
              if timeline.fault - 3 <= t <= (back or timeline.fault) + 4]
    print("\nwrk answers per second around the fault (ok/failed): " + ", ".join(
        f"{t:.0f} s {ok}/{bad}" for t, ok, bad in around))
    (args.workdir / "fault-seconds.txt").write_text("".join(
        f"{t:6.1f} s: ok {ok:5d} failed {bad:5d}\n" for t, ok, bad in seconds))
    (args.workdir / "fault-probe.txt").write_text("".join(
        f"{t:6.2f} {status} site-page={nice} try-again={again} {took:.2f}s\n"
        for t, status, nice, again, took in samples))
    (args.workdir / "fault-database.txt").write_text("".join(
        f"{t:6.2f} {'accepts connections' if up else 'refuses connections'}\n"
        for t, up in timeline.database))
    loadkit.log(f"timelines (fault-*.txt) and gunicorn.log are in {args.workdir}")
    if checked["lost_saves"] or checked["lost_decisions"]:
        raise SystemExit(f"LOST: {checked}")
    if mail["lost"] or mail["acknowledged_without_mail"]:
        raise SystemExit(f"E-MAILS LOST: {mail['lost']}; acknowledged decisions without an "
                         f"e-mail: {mail['acknowledged_without_mail']}")


if __name__ == "__main__":
    main()
