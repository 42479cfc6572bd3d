# Reads one pod's load from its "example.com/load" annotation (in a real
# autoscaler: ask the pod, e.g. GET http://<podIP>:8080/load).
import json
import sys

pod = json.load(sys.stdin)["resource"]
annotations = pod["metadata"].get("annotations") or {}
sys.stdout.write(annotations.get("example.com/load", "0"))
