#!/usr/bin/env python3
"""Turn the sunroof knob from outside the vehicle computer, with Kuksa's own client.

The knob (Vehicle.Cabin.Sunroof.Knob) is set with kuksa-client (PyPI 0.6.0) on the databroker
that the Hosts share; the Wasm controller and motor react; the script reads the roof's position
(Vehicle.Cabin.Sunroof.Position) back through a subscription until it is within 1 % of each
level. Deploy examples/sunroof/app-remote-knob.yaml (no simulated knob) first.

Usage: kuksa_knob.py HOST PORT TOKEN_FILE LEVEL [LEVEL ...]
Exit status 0 when the roof reached every level; the last line is then `SUNROOF FOLLOWED`.
"""
import sys

try:
    from kuksa_client.grpc import Datapoint, VSSClient
except ImportError as e:
    print(f"kuksa_client is not importable ({e}): pip install kuksa-client==0.6.0", flush=True)
    sys.exit(3)

KNOB = "Vehicle.Cabin.Sunroof.Knob"
POSITION = "Vehicle.Cabin.Sunroof.Position"
# The motor moves 50 %/s and the controller's EMA settles in about 2 s: 20 s per level is ample.
PER_LEVEL_S = 20


def follow(client, level):
    """Set the knob to `level`; the positions seen until the roof is within 1 % of it."""
    client.set_current_values({KNOB: Datapoint(float(level))})
    seen = []
    try:
        for updates in client.subscribe_current_values([POSITION], timeout=PER_LEVEL_S):
            point = updates.get(POSITION)
            if point is None or point.value is None:
                continue
            seen.append(point.value)
            if abs(point.value - level) <= 1:
                return seen
    except Exception as e:  # the subscription's deadline, or the broker going away
        print(f"subscription ended: {e}", flush=True)
    return seen


def main():
    if len(sys.argv) < 5:
        print(__doc__)
        return 2
    host, port, token_file, levels = sys.argv[1], int(sys.argv[2]), sys.argv[3], [float(x) for x in sys.argv[4:]]
    token = open(token_file).read().strip()
    with VSSClient(host, port, token=token) as client:
        for level in levels:
            seen = follow(client, level)
            if not seen or abs(seen[-1] - level) > 1:
                print(f"FAILED: knob {level}: the roof did not follow (positions seen: {seen[-10:]})", flush=True)
                return 1
            print(f"knob {level:g} -> roof at {seen[-1]} after {len(seen)} position updates", flush=True)
    print("SUNROOF FOLLOWED", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
