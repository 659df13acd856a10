"""The composition root: Prefect flows, tasks and the `scipol` CLI."""
