"""`relais cohort create --name ... --commune ...`: create a cohort from the command line.

Used before anyone has talked to the bot (or without ADMIN_IDS): it prints the join code
and the deep-link payload to put behind `https://t.me/<bot>?start=`.
"""

from __future__ import annotations

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import Database
from bot.services import cohorts
from bot.services.cohorts import JOIN_PREFIX


async def create_cohort_cli(
    settings: Settings, name: str, commune: str, *, clock: Clock | None = None
) -> str:
    """Create the cohort and return what to print (plain text, French like the guides).

    Raises bot.services.validation.InvalidValue for an empty or too long name/commune.
    """
    now = (clock or SystemClock()).now()
    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as session:
            cohort = await cohorts.create_cohort(
                session,
                name=name,
                commune=commune,
                timezone=settings.timezone,
                language=settings.default_language,
                now=now,
            )
    finally:
        await db.dispose()
    return (
        f"Cohorte « {cohort.name} » ({cohort.commune}) créée, n° {cohort.id}.\n"
        f"Code d'inscription : {cohort.join_code}\n"
        f"Lien : https://t.me/<nom_du_bot>?start={JOIN_PREFIX}{cohort.join_code}\n"
        "Un coordinateur (ADMIN_IDS) obtient le lien complet et le QR code avec /inviter."
    )
