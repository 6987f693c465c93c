"""What a Microkit system description means, independent of how it is
written: element order, comments, layout, attribute order and defaults
(`cached="true"`, `pp="false"`, numbers in any base) do not matter.

`python3 sdf_semantics.py A.xml [B.xml]`: prints A's meaning, one fact a
line; with B, prints the facts only one of them has (and exits 1 if any).
`make systems` uses `differences()` to show that a generated system means
what the file it replaces meant.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from typing import List, Set


def _num(text: str) -> int:
    return int(text, 0)


def _map_fact(owner: str, m: ET.Element) -> str:
    cached = m.get("cached", "true") == "true"
    return (f"map {owner} {m.get('mr')} vaddr={_num(m.get('vaddr')):#x} perms={m.get('perms')} "
            f"cached={cached} setvar_vaddr={m.get('setvar_vaddr')} setvar_size={m.get('setvar_size')}")


def _pd_facts(pd: ET.Element, parent: str, facts: Set[str]) -> None:
    name = pd.get("name")
    image = pd.find("program_image")
    attrs = {k: v for k, v in pd.attrib.items() if k != "name"}
    if attrs.get("passive") == "false":
        del attrs["passive"]
    for key in ("stack_size", "priority", "id", "budget", "period"):
        if key in attrs:
            attrs[key] = f"{_num(attrs[key]):#x}"
    facts.add(f"pd {name} parent={parent} image={image.get('path') if image is not None else None} "
              + " ".join(f"{k}={v}" for k, v in sorted(attrs.items())))
    for child in pd:
        if child.tag == "map":
            facts.add(_map_fact(name, child))
        elif child.tag == "irq":
            facts.add(f"irq {name} {_num(child.get('irq'))} id={_num(child.get('id'))} "
                      f"trigger={child.get('trigger', 'level')}")
        elif child.tag == "setvar":
            rest = " ".join(f"{k}={v}" for k, v in sorted(child.attrib.items()) if k != "symbol")
            facts.add(f"setvar {name} {child.get('symbol')} {rest}")
        elif child.tag == "protection_domain":
            _pd_facts(child, name, facts)
        elif child.tag != "program_image":
            facts.add(f"{child.tag} {name} " + " ".join(f"{k}={v}" for k, v in sorted(child.attrib.items())))


def facts(xml: str) -> Set[str]:
    """Every fact `xml` states, as a set of normalised lines."""
    root = ET.fromstring(xml)
    out: Set[str] = set()
    for mr in root.findall("memory_region"):
        attrs = {k: f"{_num(v):#x}" for k, v in mr.attrib.items() if k != "name"}
        out.add(f"mr {mr.get('name')} " + " ".join(f"{k}={v}" for k, v in sorted(attrs.items())))
    for pd in root.findall("protection_domain"):
        _pd_facts(pd, "-", out)
    for ch in root.findall("channel"):
        ends = []
        for end in ch.findall("end"):
            pp = end.get("pp", "false") == "true"
            notify = end.get("notify", "true") == "true"
            ends.append(f"{end.get('pd')}:{_num(end.get('id'))}{':pp' if pp else ''}{'' if notify else ':silent'}")
        out.add("channel " + " <-> ".join(sorted(ends)))
    for other in root:
        if other.tag not in ("memory_region", "protection_domain", "channel"):
            out.add(f"{other.tag} " + " ".join(f"{k}={v}" for k, v in sorted(other.attrib.items())))
    return out


def differences(a_xml: str, b_xml: str) -> List[str]:
    """The facts only one of the two states, `- ` for a's, `+ ` for b's."""
    a, b = facts(a_xml), facts(b_xml)
    return [f"- {f}" for f in sorted(a - b)] + [f"+ {f}" for f in sorted(b - a)]


def main(argv: List[str]) -> int:
    if len(argv) == 2:
        with open(argv[1]) as f:
            print("\n".join(sorted(facts(f.read()))))
        return 0
    if len(argv) == 3:
        with open(argv[1]) as a, open(argv[2]) as b:
            diff = differences(a.read(), b.read())
        print("\n".join(diff))
        return 1 if diff else 0
    print("usage: sdf_semantics.py A.xml [B.xml]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
