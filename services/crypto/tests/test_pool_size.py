"""Connections per agent: a crypto with many agents (a database each) keeps fewer open per agent, so 100 agents
stay inside Postgres's max_connections; SB_DB_POOL_SIZE overrides."""

from crypto.agents import pool_size_per_agent


def test_the_pool_shrinks_with_the_number_of_agents() -> None:
    assert [pool_size_per_agent(n, {}) for n in (1, 8, 20, 100)] == [5, 5, 2, 1]
    assert pool_size_per_agent(100, {"SB_DB_POOL_SIZE": "3"}) == 3
    assert pool_size_per_agent(1, {"SB_DB_POOL_SIZE": "0"}) == 1  # never none
