"""Errors that reach the user.

Every error carries a message key and parameters, rendered through the catalog in the
user's language, and an exit code: 2 for bad input, usage or config, 1 for other failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .i18n import t

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class ClientbookError(Exception):
    """A failure with a catalog message. Subclasses set the exit code."""

    exit_code = EXIT_FAILURE

    def __init__(self, key: str, **params):
        self.key = key
        self.params = params
        super().__init__(key)

    def render(self) -> str:
        return t(self.key, **self.params)

    def __str__(self) -> str:
        return self.render()


class BadInput(ClientbookError):
    """Bad arguments, unknown ids, malformed files: exit 2, nothing written."""

    exit_code = EXIT_BAD_INPUT


class PluginError(ClientbookError):
    """A plugin broke the contract (bad output, conflicting columns): exit 1."""


def contract_error(plugin: str, hook: str, problem: str, **params) -> PluginError:
    """A plugin's output broke the hook's contract: say which plugin, which hook, what."""
    return PluginError("plugins.bad_output", plugin=plugin, hook=hook, problem=t(f"contract.{problem}", **params))


@dataclass
class Problem:
    """One problem in a policy file: where it is and what is wrong with it."""

    source: str
    key: str
    message_key: str
    params: dict = field(default_factory=dict)

    def render(self) -> str:
        params = dict(self.params)
        if "expected_key" in params:  # a nested message: "expected an integer"
            params["expected"] = t(params.pop("expected_key"))
        return t("policy.problem", source=self.source, key=self.key, what=t(self.message_key, **params))


class PolicyError(ClientbookError):
    """One or more problems in the policy; all of them are reported at once."""

    exit_code = EXIT_BAD_INPUT
    heading = "policy.invalid"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(self.heading, count=len(problems))

    def render(self) -> str:
        lines = [t(self.heading, count=len(self.problems))]
        lines.extend("  " + problem.render() for problem in self.problems)
        return "\n".join(lines)


class MappingError(PolicyError):
    """One or more problems in a mapping file, reported like the policy's."""

    heading = "mapping.invalid"
