"""The patient guides: what dry needling is, its techniques, a session, safety, choosing."""

from __future__ import annotations

from typing import NamedTuple

from flask import Blueprint, render_template

from directory import vocab
from directory.security import public

bp = Blueprint("learn", __name__, url_prefix="/learn")


class Guide(NamedTuple):
    """One guide: its endpoint, title and one-line summary for the index."""

    endpoint: str
    title: str
    summary: str


GUIDES: tuple[Guide, ...] = (
    Guide("learn.dry_needling", "What dry needling is",
          "What happens, who does it, and how it differs from acupuncture."),
    Guide("learn.techniques", "Dry needling techniques",
          "The techniques practitioners list on their profiles, in plain words."),
    Guide("learn.what_to_expect", "What to expect in a session",
          "The assessment, the needles, the twitch, and how you may feel afterwards."),
    Guide("learn.safety", "Who should be cautious, and the risks",
          "What to tell your practitioner first, the rare risks, and when to get urgent help."),
    Guide("learn.choosing", "How to choose a practitioner",
          "Profession, licence, training, and what “verified” means on this site."),
)

# A short, plain description of each technique in vocab.TECHNIQUES (same codes, same order).
TECHNIQUE_NOTES: dict[str, str] = {
    "trigger_point": (
        "A trigger point is a tight, tender spot in a band of muscle. The practitioner finds it "
        "by touch and places the needle into it. They may move the needle gently in and out."),
    "superficial": (
        "The needle goes only into the skin and the tissue just under it, over the tender spot. "
        "It does not go deep into the muscle. It is often left in place for a short time."),
    "deep": (
        "The needle goes through the skin and into the muscle, to reach the trigger point "
        "itself."),
    "ims": (
        "Needles are placed in tight muscles in the painful area and in muscles near the spine "
        "that share the same nerve supply."),
    "multiple_trigger_point": (
        "Several trigger points are needled in the same session, for example in one muscle "
        "or in muscles that work together."),
    "segmental": (
        "Needles are placed near the spine, at the level of the nerves that supply the painful "
        "area. This can be done as well as, or instead of, needling the painful area itself."),
    "functional": (
        "The practitioner looks at how you move, not only at where it hurts. They choose the "
        "muscles to needle from that, and check the movement again afterwards."),
    "electrical": (
        "A small electrical current is passed between needles that are already in place, using "
        "a device. It feels like tapping or tingling. The practitioner can turn it down or stop "
        "it at any time. Tell them first if you have a pacemaker or another implanted device."),
}


def _guide(template: str, endpoint: str, **context):
    """Render one guide, with the other guides listed at its end."""
    current = next(g for g in GUIDES if g.endpoint == endpoint)
    others = [g for g in GUIDES if g.endpoint != endpoint]
    return render_template(template, guide=current, other_guides=others, **context)


@bp.route("/")
@public
def index():
    """The list of guides."""
    return render_template("learn/index.html", guides=GUIDES)


@bp.route("/dry-needling")
@public
def dry_needling():
    """What dry needling is, and how it differs from acupuncture."""
    return _guide("learn/dry_needling.html", "learn.dry_needling")


@bp.route("/techniques")
@public
def techniques():
    """Each technique in plain words, with a link to search for practitioners who offer it."""
    techniques = [(code, label, TECHNIQUE_NOTES.get(code, ""))
                  for code, label in vocab.TECHNIQUES.items()]
    return _guide("learn/techniques.html", "learn.techniques", techniques=techniques)


@bp.route("/what-to-expect")
@public
def what_to_expect():
    """The stages of a session, and how you may feel afterwards."""
    return _guide("learn/what_to_expect.html", "learn.what_to_expect")


@bp.route("/safety")
@public
def safety():
    """Who should be cautious, the rare risks, and when to get urgent help."""
    return _guide("learn/safety.html", "learn.safety")


@bp.route("/choosing-a-practitioner")
@public
def choosing():
    """What to look for in a practitioner, and what "verified" means here."""
    return _guide("learn/choosing.html", "learn.choosing")
