"""An injected fault in a real program must behave as the real fault it
stands for: the scenario runs at the default level with injection rules
(SOCKDIAG_INJECT), and once more under `sockdiag run --summary` with the
same rules; both must show what the real fault showed without the library,
and every record of an injected fault names its rule."""
from harness import expect, expect_eq
from modes import Mode, describe
from summary_mode import normal_form, summarised


class InjectMode(Mode):
    """The default level, with `rules`."""

    def __init__(self, h, rules):
        super().__init__(h, "inject")
        self.rules = list(rules)

    def settings(self):
        settings = super().settings()
        settings["INJECT"] = ";".join(self.rules)
        return settings


def injected_runs(h, scenario, rules, reference):
    """Runs `scenario` with `rules` at the default level and under
    `sockdiag run --summary`; each must show `reference` (what the real
    fault showed without the library). Returns the records of the first run."""
    mode = InjectMode(h, rules)
    result = scenario(mode)
    records = mode.records()
    expect_eq(result, reference, "what the programs showed with the injected fault vs with the real one",
              describe(records, 40))
    summarised(h, scenario, reference, rules)
    return records


def expect_marked(h, records, rule, wanted):
    """The records of injected faults are exactly `wanted` ((prog, call,
    code, peer, via) tuples, in order), each marked injected by `rule`."""
    injected = [r for r in records if r["injected"]]
    expect_eq([(r["prog"], r["call"], r["code"], r["peer"], r["via"]) for r in injected], wanted,
              "records of the injected faults", describe(records, 40))
    text = normal_form(h, rule)
    for rec in injected:
        expect_eq((rec["level"], rec["rule"]), ("error", text), "level and rule of an injected fault's record",
                  describe(injected))
    expect(all(r["rule"] == "" for r in records if not r["injected"]),
           "a record of a real failure names a rule", describe(records, 40))
