"""The single Piccolo app: each domain owns its tables.py; migrations live in ../migrations."""

from piccolo.conf.apps import AppConfig, table_finder

from backend.settings import REPO_ROOT

DOMAIN_TABLE_MODULES = [
    "backend.core.throttle",
    "backend.grids.tables",
    "backend.people.tables",
    "backend.media.tables",
    "backend.cases.tables",
    "backend.cases.supervision",
    "backend.cases.risk",
    "backend.sync.tables",
    "backend.visits.tables",
    "backend.screenings.tables",
    "backend.notify.tables",
    "backend.reports.tables",
]

APP_CONFIG = AppConfig(
    app_name="fengqiao",
    migrations_folder_path=str(REPO_ROOT / "migrations"),
    table_classes=table_finder(modules=DOMAIN_TABLE_MODULES, exclude_imported=True),
    migration_dependencies=[],
    commands=[],
)
