"""Seeds the 11 default dispute categories (reference data every deployment needs)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-26T23:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Seed the 11 default dispute categories"


async def forwards():
    from piccolo.table import Table

    manager = MigrationManager(migration_id=ID, app_name="fengqiao", description=DESCRIPTION)

    async def seed():
        # A frozen copy of the list as of this migration: later edits to the code must not change history.
        defaults = (
            ("neighbour", "邻里纠纷", "邻里纠纷"),
            ("relationship", "情感纠纷", "婚姻纠纷"),
            ("land_compensation", "征地补偿", "征地拆迁"),
            ("agriculture", "农业农村", "生产经营"),
            ("labour", "劳动仲裁", "劳动争议"),
            ("marriage_family", "婚姻家庭", "家庭纠纷"),
            ("forest_land", "山林土地", "山林土地"),
            ("homestead", "房屋宅基地", "房屋宅基地"),
            ("contract_debt", "合同债务", "合同纠纷"),
            ("damages", "损害赔偿", "损害赔偿"),
            ("other", "其他", "其他纠纷"),
        )

        class RawCategory(Table, tablename="case_category"):
            pass

        for order, (code, name, national) in enumerate(defaults, start=1):
            await RawCategory.raw(
                "INSERT INTO case_category (code, name, national_category, active, sort_order) "
                "SELECT {}, {}, {}, {}, {} WHERE NOT EXISTS (SELECT 1 FROM case_category WHERE code = {})",
                code,
                name,
                national,
                True,
                order,
                code,
            ).run()

    manager.add_raw(seed)
    return manager
