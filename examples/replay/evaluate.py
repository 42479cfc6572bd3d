# New logic for the getting-started autoscaler: the numPods label plus one
# replica of headroom. Reads the evaluate stage's JSON on stdin, prints
# {"targetReplicas": N}.
import json
import sys


def main():
    spec = json.loads(sys.stdin.read())
    try:
        wanted = int(spec["metrics"][0]["value"])
    except (KeyError, IndexError, ValueError) as err:
        sys.stderr.write(f"Invalid metric value: {err}\n")
        sys.exit(1)
    sys.stdout.write(json.dumps({"targetReplicas": wanted + 1}))


if __name__ == "__main__":
    main()
