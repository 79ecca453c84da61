"""The service's settings, read from the course's nbgrader_config.py as nbgrader reads its own:

    c.KitWatch.before_due = "summary"     # "visible" | "summary" | "full"
    c.KitWatch.limit = 3                  # graded submissions per student per period
    c.KitWatch.period = "hour"            # "hour" | "day"
    c.KitWatch.poll_interval = 0.25       # seconds between looks at the exchange
    c.KitWatch.source = "inbound"         # or "submitted" (zip_collect, or collected by hand)
    c.KitWatch.workers = 0                # warm sandboxes grading at once (0: one per core)

The exchange is nbgrader's own setting (c.Exchange.root), the course id CourseDirectory.course_id.
"""

from traitlets import Enum, Float, Integer
from traitlets.config import Configurable

LEVELS = ("visible", "summary", "full")
PERIODS = {"hour": 3600.0, "day": 86400.0}


class KitWatch(Configurable):
    """`python -m autograder watch`'s policy and pace."""

    before_due = Enum(LEVELS, default_value="summary",
                      help="What a page shows before the due date: the visible tests only ('visible'), "
                           "plus per function whether its hidden checks pass ('summary'), or everything "
                           "('full'). After the due date every page is full.").tag(config=True)
    limit = Integer(3, min=1, help="Submissions graded per student per period; later ones wait").tag(config=True)
    period = Enum(tuple(PERIODS), default_value="hour", help="The rate limit's window").tag(config=True)
    poll_interval = Float(0.25, min=0.01, help="Seconds between looks at the exchange").tag(config=True)
    workers = Integer(0, min=0, help="Sandboxes grading at once, each in its own process (0: one per core)"
                      ).tag(config=True)
    source = Enum(("inbound", "submitted"), default_value="inbound",
                  help="Watch the exchange's inbound/ (nbgrader submit) or the course's submitted/").tag(config=True)


def read(config) -> KitWatch:
    return KitWatch(config=config)


def exchange_root(config) -> str:
    """nbgrader's exchange root as the course configures it (c.Exchange.root)."""
    from nbgrader.exchange.default.exchange import Exchange

    return Exchange(config=config, coursedir=None, authenticator=None).root
