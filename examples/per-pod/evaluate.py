# Enough replicas that each carries at most TARGET_LOAD (an env var: set it in
# the CPA's spec.config).
import json
import math
import os
import sys

spec = json.load(sys.stdin)
target = float(os.environ.get("TARGET_LOAD", "50"))
loads = [float(m.get("value", "0")) for m in spec["metrics"] or []]
sys.stdout.write(json.dumps({"targetReplicas": math.ceil(sum(loads) / target)}))
