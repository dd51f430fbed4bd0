"""`python -m catalog_service migrate | seed-demo [--teacher-id N] | sweep-files`"""

from datetime import timedelta

import click

from service_kit.cli import service_cli
from service_kit.config import env_config
from service_kit.db import Database

from . import content, settings, tasks
from .demo_data import (
    DEMO_TEACHER_COURSES,
    assign_demo_teacher,
    attach_demo_files,
    catalog_is_empty,
    demo_courses,
    load_courses,
)
from .models import MAX_USER_ID
from .storage import storage_from_config

cli = service_cli("catalog", "catalog_service")


@cli.command("seed-demo")
@click.option(
    "--teacher-id",
    type=click.IntRange(1, MAX_USER_ID),
    envvar="DEMO_TEACHER_ID",
    help="An auth user id to make the teacher of a few demo courses.",
)
def seed_demo(teacher_id: int | None) -> None:
    """Load the demo courses and materials, only into an empty catalog."""
    config = {**env_config("catalog"), **settings.from_environment()}
    database = Database.from_config(config)
    try:
        with database.session() as session:
            if catalog_is_empty(session):
                count = load_courses(session, demo_courses())
                click.echo(f"catalog: loaded {count} demo courses")
                storage = storage_from_config(config)
                files = attach_demo_files(session, storage, tasks.extract_material_text)
                click.echo(f"catalog: attached {files} demo files (the worker extracts their text)")
            else:
                click.echo("catalog: not empty, demo courses left alone")
            if teacher_id is not None:
                assigned = assign_demo_teacher(session, teacher_id, DEMO_TEACHER_COURSES)
                click.echo(f"catalog: user {teacher_id} teaches {assigned} more demo course(s)")
    finally:
        database.dispose()


@cli.command("sweep-files")
@click.option(
    "--grace-minutes",
    type=click.IntRange(0, 24 * 60),
    default=int(content.SWEEP_GRACE.total_seconds() // 60),
    show_default=True,
    help="Leave objects younger than this (an upload may be in flight).",
)
def sweep_files(grace_minutes: int) -> None:
    """Delete stored files no material points at (the worker does this every 5 minutes)."""
    removed = tasks.sweep_now(timedelta(minutes=grace_minutes))
    click.echo(f"catalog: removed {removed} unreferenced stored file(s)")


if __name__ == "__main__":
    cli()
