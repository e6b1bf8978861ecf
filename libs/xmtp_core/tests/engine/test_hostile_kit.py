"""Shared set-ups of the hostile-input tests: a group of three with a plain member, and a resolver that records
what it is asked and fails on demand."""

from __future__ import annotations

from enginekit import Client, Node, Resolver, add, client, join
from xmtp_core.engine import new_group


async def group_of_three(resolver: Resolver) -> tuple[Node, Client, Client, Client]:
    """admin creates a group and adds bob and mallory; everyone joined, mallory a plain member."""
    node = Node()
    admin, bob, mallory = client(resolver), client(resolver), client(resolver)
    admin.group = new_group(admin.keys, 1)
    add(node, admin, [bob, mallory])
    for member in (bob, mallory):
        await join(node, member, resolver)
    return node, admin, bob, mallory


class FailingResolver(Resolver):
    """Answers like Resolver except for the inboxes in ``errors``, whose look-ups raise the given exception."""

    def __init__(self, base: Resolver, errors: dict[str, Exception]) -> None:
        super().__init__(base.installations)
        self.errors = errors
        self.asked: list[str] = []

    async def installations_at(self, inbox_id: str, sequence_id: int) -> frozenset[bytes]:
        self.asked.append(inbox_id)
        if inbox_id in self.errors:
            raise self.errors[inbox_id]
        return await super().installations_at(inbox_id, sequence_id)
