"""The ``[lifecycle]`` policy table: each part is defined beside the rules that read it."""

from __future__ import annotations

from clientbook.policy import PolicyModel

from .contacts.policy import ContactsPolicy
from .groups import GroupsPolicy, OccupationClass, check_groups, check_occupations
from .models import NEED as PRODUCT_GAP
from .models import ModelsPolicy
from .needs import NEEDS, NeedsPolicy
from .planning.calendar import country_problems
from .planning.policy import PlanningPolicy
from .sales.policy import SalesPolicy
from .stages import Rule, Stage, check_stages


def _nested(prefix: str, found) -> list[tuple[str, str, dict]]:
    return [(f"{prefix}.{key}" if key else prefix, message, params) for key, message, params in found]


class LifecyclePolicy(PolicyModel):
    stages: list[Stage] = []
    rules: list[Rule] = []
    occupations: list[OccupationClass] = []
    groups: GroupsPolicy = GroupsPolicy()
    needs: NeedsPolicy = NeedsPolicy()
    models: ModelsPolicy = ModelsPolicy()
    planning: PlanningPolicy = PlanningPolicy()
    contacts: ContactsPolicy = ContactsPolicy()
    sales: SalesPolicy = SalesPolicy()

    def check(self):
        found = check_stages(self)
        found += check_occupations(self)
        # Groups name stages and occupation classes: checked here, where all three are at hand.
        found += check_groups(self)
        found += _nested("needs", self.needs.check())
        found += _nested("models", self.models.check())
        found += _nested("planning", self.planning.check())
        found += _nested("planning.calendar", country_problems(self.planning.calendar))
        found += _nested("contacts", self.contacts.check())
        found += _nested("sales", self.sales.check([*NEEDS, PRODUCT_GAP]))
        return found

    def check_across(self, tables):
        groups = [group.name for group in self.groups.list]
        return (_nested("needs", self.needs.check_across(tables))
                + _nested("planning", self.planning.check_across(tables, groups, [*NEEDS, PRODUCT_GAP])))
