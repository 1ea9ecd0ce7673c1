"""Practitioners, their tags (techniques, conditions, languages) and practice locations."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from directory.models.base import TimestampMixin, db
from directory.models.user import User
from directory.vocab import GeoPrecision, TagKind, check_in

if TYPE_CHECKING:
    from directory.models.licence import Licence


class Practitioner(TimestampMixin, db.Model):
    """A practitioner's public profile; one per practitioner account."""

    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    post_nominals: Mapped[str] = mapped_column(String(80), default="")
    profession: Mapped[str | None] = mapped_column(String(32))
    licence_number: Mapped[str] = mapped_column(String(60), default="")
    licence_country: Mapped[str | None] = mapped_column(String(2))
    licence_region: Mapped[str | None] = mapped_column(String(10))
    # The US National Provider Identifier (10 digits, Luhn check digit); NULL elsewhere.
    npi: Mapped[str | None] = mapped_column(String(10), index=True)
    bio: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    public_email: Mapped[str] = mapped_column(String(254), default="")
    website: Mapped[str] = mapped_column(String(500), default="")
    booking_url: Mapped[str] = mapped_column(String(500), default="")
    accepting_new_patients: Mapped[bool] = mapped_column(default=True)
    insurance_notes: Mapped[str] = mapped_column(Text, default="")
    # Whether the profile shows the phone and the public e-mail at all (the practitioner may keep
    # them on record for administrators only), and whether patients may send an enquiry.
    show_phone: Mapped[bool] = mapped_column(default=True, server_default=true())
    show_public_email: Mapped[bool] = mapped_column(default=True, server_default=true())
    enquiries_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Fees in minor units (cents, pence) of fee_currency (ISO 4217); NULL: not given.
    fee_first_visit: Mapped[int | None]
    fee_follow_up: Mapped[int | None]
    fee_currency: Mapped[str | None] = mapped_column(String(3))
    # The stored profile photo (directory.profiles.photos names its sizes from it); NULL: none.
    photo_key: Mapped[str | None] = mapped_column(String(64))
    attested_at: Mapped[datetime | None]
    # The yearly "still accurate" reminders sent for the current attestation (NULL: not yet);
    # reset when the practitioner confirms again.
    attest_reminder_11_sent_at: Mapped[datetime | None]
    attest_reminder_12_sent_at: Mapped[datetime | None]
    # The last day the practitioner is listed (9999-12-31: no expiry; NULL: not listed), kept
    # by directory.listing whenever a certification or the account changes. Search reads it
    # instead of joining certifications and users for every location in the box.
    listed_until: Mapped[date | None]
    is_demo: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(default=1)
    # The folded words the name search finds the practitioner by (name, clinics, licence, NPI),
    # kept by directory.search.names whenever one of them changes; indexed by full-text search
    # (an FTS5 table on SQLite, a GIN index on PostgreSQL: migration 0014).
    search_words: Mapped[str] = mapped_column(Text, default="", server_default="")

    user: Mapped[User] = relationship(back_populates="practitioner")
    tags: Mapped[list[PractitionerTag]] = relationship(
        back_populates="practitioner", cascade="all, delete-orphan",
        order_by="(PractitionerTag.kind, PractitionerTag.code)",
    )
    locations: Mapped[list[PracticeLocation]] = relationship(
        back_populates="practitioner", cascade="all, delete-orphan",
        order_by="PracticeLocation.id",
    )
    # The check of the licence (None until one is recorded: unverified).
    licence: Mapped[Licence | None] = relationship(
        back_populates="practitioner", cascade="all, delete-orphan", uselist=False)

    __mapper_args__ = {"version_id_col": version}

    def codes(self, kind: TagKind) -> list[str]:
        """The codes of one kind of tag, sorted."""
        return [t.code for t in self.tags if t.kind == kind]

    @property
    def techniques(self) -> list[str]:
        """Technique codes offered."""
        return self.codes(TagKind.TECHNIQUE)

    @property
    def conditions(self) -> list[str]:
        """Condition codes treated."""
        return self.codes(TagKind.CONDITION)

    @property
    def languages(self) -> list[str]:
        """ISO 639-1 language codes spoken."""
        return self.codes(TagKind.LANGUAGE)

    def set_codes(self, kind: TagKind, codes: list[str]) -> None:
        """Replace the tags of one kind with these codes."""
        wanted = set(codes)
        keep = [t for t in self.tags if t.kind != kind or t.code in wanted]
        have = {t.code for t in keep if t.kind == kind}
        keep += [PractitionerTag(kind=kind, code=c) for c in sorted(wanted - have)]
        self.tags = keep

    def __repr__(self) -> str:
        return f"<Practitioner {self.id} {self.slug}>"


class SearchWord(db.Model):
    """A word of some practitioner's search_words that a typo may reach: the vocabulary the
    name search looks typos up in (by trigram: an FTS5 trigram table on SQLite, pg_trgm's GIN
    index on PostgreSQL). Words are only added: one no document holds any longer finds
    nobody."""

    __tablename__ = "search_words"
    __table_args__ = (
        Index("ix_search_words_trigrams", "word", postgresql_using="gin",
              postgresql_ops={"word": "gin_trgm_ops"}),
    )

    word: Mapped[str] = mapped_column(String(40), primary_key=True)


class PractitionerTag(db.Model):
    """One technique, condition or language of a practitioner; searchable by (kind, code)."""

    __tablename__ = "practitioner_tags"
    __table_args__ = (
        CheckConstraint(check_in("kind", TagKind), name="kind"),
        Index("ix_practitioner_tags_kind_code", "kind", "code", "practitioner_id"),
    )

    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)

    practitioner: Mapped[Practitioner] = relationship(back_populates="tags")


class PracticeLocation(TimestampMixin, db.Model):
    """A place where a practitioner sees patients; geocoded when saved."""

    __tablename__ = "practice_locations"
    __table_args__ = (
        # The search reads a box of (lat, lng) from this index alone, without visiting a table:
        # the index also holds the practitioner and the copies the listing rule and the order
        # by name need (the box holds a few hundred rows at a city centre).
        Index("ix_practice_locations_lat_lng", "lat", "lng", "practitioner_id",
              "practitioner_listed_until", "practitioner_attested_at", "practitioner_name",
              "scope_verdict"),
        # The locations of a country or region, whose verdicts a rule there changes.
        Index("ix_practice_locations_country_region_code", "country", "region_code"),
        CheckConstraint("geo_precision IS NULL OR " + check_in("geo_precision", GeoPrecision),
                        name="geo_precision"),
        CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        CheckConstraint("lng IS NULL OR (lng BETWEEN -180 AND 180)", name="lng_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("practitioners.id", ondelete="CASCADE"), index=True
    )
    clinic_name: Mapped[str] = mapped_column(String(120))
    street: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(100), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2))
    # The region as an ISO 3166-2 code ("US-CO"), set when the location is geocoded: the
    # jurisdiction whose dry-needling rule governs what is done here (None: only the country's).
    region_code: Mapped[str | None] = mapped_column(String(10))
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    geo_precision: Mapped[str | None] = mapped_column(String(10))
    wheelchair_accessible: Mapped[bool] = mapped_column(default=False)
    # Seen by appointment only (the hours, if any, say when the clinic is open).
    by_appointment: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The IANA time zone of the location's coordinates ("Australia/Sydney"), set when it is
    # geocoded: "open now" is computed in it. NULL until placed.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Copies of the practitioner's listed_until, attested_at and full_name, kept by
    # directory.listing in the same transaction as any change to them: with them in the
    # (lat, lng) index, the search reads no practitioners row for the hundreds of locations in
    # its box (half of the query's time at a million practitioners).
    practitioner_listed_until: Mapped[date | None]
    practitioner_attested_at: Mapped[datetime | None]
    practitioner_name: Mapped[str | None] = mapped_column(String(120))
    # Whether the practitioner's profession may dry-needle here ("yes", "no", "unclear",
    # "unknown"; NULL without a profession), kept by directory.listing like the copies above,
    # for the search's default "not permitted there" filter (directory.search.filters).
    scope_verdict: Mapped[str | None] = mapped_column(String(10))

    practitioner: Mapped[Practitioner] = relationship(back_populates="locations")
    hours: Mapped[list[OpeningHours]] = relationship(
        back_populates="location", cascade="all, delete-orphan",
        order_by="(OpeningHours.weekday, OpeningHours.opens)")

    def __repr__(self) -> str:
        return f"<PracticeLocation {self.id} {self.city}>"


class OpeningHours(db.Model):
    """One opening of a practice location: a weekday (0 Monday … 6 Sunday) from a local time to
    a later one, in the location's time zone. A day may have several (a lunch break)."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("closes > opens", name="closes_after_opens"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(
        ForeignKey("practice_locations.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int]
    opens: Mapped[time]
    closes: Mapped[time]

    location: Mapped[PracticeLocation] = relationship(back_populates="hours")
