"""The command menus and /aide never offer a command that the access gate would refuse."""

from __future__ import annotations

import pytest

from bot.models import Role
from bot.services.access import COMMAND_ACCESS, Actor
from handlers.help import COMMANDS, commands_for

ACTORS = {
    Role.MERCHANT: Actor(
        telegram_user_id=1,
        language="fr",
        zone="Europe/Brussels",
        member_id=1,
        onboarded=True,
        active_cohort_id=1,
        roles=frozenset({Role.MERCHANT}),
    ),
    Role.TRAINER: Actor(
        telegram_user_id=2,
        language="fr",
        zone="Europe/Brussels",
        member_id=2,
        onboarded=True,
        active_cohort_id=1,
        roles=frozenset({Role.TRAINER}),
    ),
    Role.COORDINATOR: Actor(
        telegram_user_id=3,
        language="fr",
        zone="Europe/Brussels",
        member_id=3,
        onboarded=True,
        active_cohort_id=1,
        roles=frozenset({Role.COORDINATOR}),
    ),
}


@pytest.mark.parametrize("role", list(ACTORS))
def test_each_role_is_offered_only_commands_it_may_use(role: Role) -> None:
    actor = ACTORS[role]
    for command in commands_for(frozenset({role})):
        access = COMMAND_ACCESS.get(command.name)
        assert access is not None, f"/{command.name} is not in the authorisation table"
        assert actor.may(access), f"/{command.name} is offered to a {role} who may not use it"


def test_command_names_fit_telegram_rules() -> None:
    names = [command.name for command in COMMANDS]
    assert len(names) == len(set(names))
    assert all(name.isascii() and name.islower() and 1 <= len(name) <= 32 for name in names)
