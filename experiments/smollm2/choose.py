"""Pick the sweep arm with the best tuned accuracy on the tuning tasks' validation splits (ties:
the smaller learning rate), write it to EXP/choice.json and the main run's config, with that
arm's lr and prompt budget, to EXP/main.yaml.

    .venv/bin/python experiments/smollm2/choose.py EXP
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def main() -> None:
    exp = Path(sys.argv[1])
    scores = []
    for path in sorted((exp / "sweep" / "val").glob("*/results.json")):
        arm = path.parent.name
        if arm == "base":
            continue
        summary = json.loads(path.read_text())["summary"]["rank"]["tuned"]["neither"]
        config = json.loads((exp / "sweep" / arm / "config.json").read_text())
        manifest = json.loads((exp / "sweep" / arm / "mixture_manifest.json").read_text())
        scores.append(
            {
                "arm": arm,
                "accuracy": summary["average"],
                "n": summary["n"],
                "lr": config["lr"],
                "budget": manifest["config"]["max_tokens"],
                "steps": config["steps"],
            }
        )
    if not scores:
        sys.exit(f"no sweep results under {exp / 'sweep' / 'val'}")
    best = max(scores, key=lambda s: (s["accuracy"], -s["lr"]))
    (exp / "choice.json").write_text(json.dumps({"chosen": best, "arms": scores}, indent=2))
    config = yaml.safe_load(Path(__file__).with_name("main.yaml").read_text())
    config["data"]["max_tokens"] = best["budget"]
    config["tune"]["seq_len"] = best["budget"]
    config["tune"]["lr"] = best["lr"]
    (exp / "main.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    print(f"chosen: {best['arm']} (lr {best['lr']}, budget {best['budget']})")


if __name__ == "__main__":
    main()
