"""Demo data: an admin to log in with and demo practitioners in every country we serve."""

from sqlalchemy import func, select

from directory.demo import DEMO_ADMIN_EMAIL
from directory.extensions import db
from directory.models import PracticeLocation, Practitioner, User


def test_demo_seed_fills_an_empty_database_once_and_prints_the_admin_login(app, runner, client):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "Demo data created" in result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("Demo admin login"))
    email, password = line.split(": ", 1)[1].split("  ")[0].split(" / ")
    assert email == DEMO_ADMIN_EMAIL

    with app.app_context():
        practitioners = db.session.scalars(select(Practitioner)).all()
        assert len(practitioners) >= 36
        assert all(p.is_demo for p in practitioners)
        countries = set(db.session.scalars(select(PracticeLocation.country)))
        assert {"US", "AU", "GB", "CA", "NZ", "IE"} <= countries
        assert db.session.scalar(select(func.count()).select_from(PracticeLocation)
                                 .where(PracticeLocation.lat.is_(None))) == 0
        # Opening hours on each location's own clock: weekdays, some Saturdays, some by
        # appointment only.
        locations = db.session.scalars(select(PracticeLocation)).all()
        assert all(loc.time_zone for loc in locations)
        assert {loc.time_zone for loc in locations
                if (loc.city, loc.country) == ("Sydney", "AU")} == {"Australia/Sydney"}
        assert any(loc.by_appointment and not loc.hours for loc in locations)
        assert any(5 in {o.weekday for o in loc.hours} for loc in locations)
        users = db.session.scalar(select(func.count()).select_from(User))

    # Run again: nothing added, the same login printed.
    again = runner.invoke(args=["demo", "seed"])
    assert "no demo data added" in again.output
    assert f"{email} / {password}" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == users

    # The printed login works and reaches the admin pages.
    response = client.post("/account/login", data={"email": email, "password": password})
    assert response.headers["Location"] == "/admin/"
    assert b"Demo profiles" in client.get("/admin/").data


def test_demo_profiles_are_marked_as_demo(app, runner, client, auth):
    runner.invoke(args=["demo", "seed"])
    with app.app_context():
        slug = db.session.scalars(select(Practitioner.slug)).first()
    auth.login(DEMO_ADMIN_EMAIL, runner.invoke(args=["demo", "seed"]).output
               .split(" / ")[1].split("  ")[0])
    page = client.get(f"/p/{slug}").get_data(as_text=True)
    assert "Demo data — not a real practitioner" in page
