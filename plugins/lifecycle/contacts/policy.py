"""``[lifecycle.contacts]``: what a contact may be (its kinds, channels and outcomes, each with its
labels), which contacts count towards familiarity, how long a note may be and when a follow-up
without a date falls due.

The defaults here are the plugin's; ``config/default.toml`` writes the same tables out for an
institution to change (``tests/test_contact_log.py`` keeps the two equal).
"""

from __future__ import annotations

from clientbook.policy import Field, Labels, PolicyModel, named_list_problems

_NAME = r"^[a-z][a-z0-9_]*$"


def _labels(en: str, hans: str, hant: str) -> Labels:
    return {"en": en, "zh-Hans": hans, "zh-Hant": hant}


class ContactKind(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}
    # A contact of this kind with a customer reached counts towards familiarity (contacts.meaningful).
    meaningful: bool = True


class Channel(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}


class Outcome(PolicyModel):
    name: str = Field(pattern=_NAME)
    label: Labels = {}
    # The customer was reached: only then does the contact count (a missed call is not one).
    reached: bool = True


# The relationship routine's contacts (建立聯系和信任, 日常維護, 產品銷售).
DEFAULT_KINDS = [
    ContactKind(name="introduction", label=_labels("Introduction", "自我介绍", "自我介紹")),
    ContactKind(name="trust_building", label=_labels("Trust building", "建立信任", "建立信任")),
    ContactKind(name="non_financial_service", label=_labels("Non-financial service", "非金融服务", "非金融服務")),
    ContactKind(name="maintenance", label=_labels("Maintenance", "日常维护", "日常維護")),
    ContactKind(name="need_follow_up", label=_labels("Need follow-up", "需求跟进", "需求跟進")),
    ContactKind(name="sales", label=_labels("Sales", "产品销售", "產品銷售")),
]
DEFAULT_CHANNELS = [
    Channel(name="visit", label=_labels("Visit", "拜访", "拜訪")),
    Channel(name="phone", label=_labels("Phone call", "电话", "電話")),
    Channel(name="message", label=_labels("Message", "消息", "訊息")),
    Channel(name="video", label=_labels("Video call", "视频通话", "視訊通話")),
    Channel(name="event", label=_labels("Event", "活动", "活動")),
    Channel(name="branch", label=_labels("At the branch", "网点面谈", "網點面談")),
]
DEFAULT_OUTCOMES = [
    Outcome(name="reached", label=_labels("Reached", "已联系上", "已聯繫上")),
    Outcome(name="agreed", label=_labels("Agreed a next step", "约定下一步", "約定下一步")),
    Outcome(name="declined", label=_labels("Not interested", "暂无兴趣", "暫無興趣")),
    Outcome(name="no_answer", label=_labels("No answer", "未接通", "未接通"), reached=False),
    Outcome(name="call_back", label=_labels("Asked to call back", "约定回电", "約定回電"), reached=False),
]


class ContactsPolicy(PolicyModel):
    kinds: list[ContactKind] = DEFAULT_KINDS
    channels: list[Channel] = DEFAULT_CHANNELS
    outcomes: list[Outcome] = DEFAULT_OUTCOMES
    default_outcome: str = "reached"  # a contact logged without --outcome
    note_max: int = Field(default=2000, ge=1, le=100_000)  # characters of a contact's note
    follow_up_max: int = Field(default=200, ge=1, le=10_000)  # characters of a follow-up's text
    follow_up_days: int = Field(default=7, ge=0, le=3660)  # a follow-up logged without a date is due this many days on

    def kind(self, name: str) -> ContactKind | None:
        return next((kind for kind in self.kinds if kind.name == name), None)

    def outcome(self, name: str) -> Outcome | None:
        return next((outcome for outcome in self.outcomes if outcome.name == name), None)

    def check(self):
        """Keys relative to ``[lifecycle.contacts]``."""
        found = []
        for key, items in (("kinds", self.kinds), ("channels", self.channels), ("outcomes", self.outcomes)):
            found += named_list_problems(key, items)
        outcomes = [outcome.name for outcome in self.outcomes]
        if self.outcomes and self.default_outcome not in outcomes:
            found.append(("default_outcome", "lifecycle.contacts.policy.unknown_outcome",
                          {"found": self.default_outcome, "expected": ", ".join(outcomes)}))
        return found


def contact_labels(settings: ContactsPolicy, language: str) -> dict[str, dict[str, str]]:
    """The policy's kinds, channels and outcomes in ``language`` (by the book's field names), and the
    plugin's own follow-up action."""
    from clientbook.i18n import t_in
    from clientbook.policy import pick_label

    def labelled(items) -> dict[str, str]:
        return {item.name: pick_label(item.label, language, item.name) for item in items}

    return {"contacts.kind": labelled(settings.kinds), "contacts.channel": labelled(settings.channels),
            "contacts.outcome": labelled(settings.outcomes),
            "followups.action": {"follow_up": t_in(language, "lifecycle.followups.action.follow_up")}}
