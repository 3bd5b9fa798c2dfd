#!/usr/bin/env python3
"""Drive silverline's VSS databroker with the real kuksa-client (PyPI 0.6.0), as a Kuksa app would.

Run by the Rust test tests/all/kuksa_client.rs, which starts the broker with the sunroof catalog
(examples/sunroof/vss.json), sets Vehicle.Cabin.Sunroof.Position to 42 beforehand, and answers
the line SUBSCRIBED on stdout by setting Vehicle.Cabin.Sunroof.Knob to 12.5 from Rust.

Usage: kuksa_client_check.py HOST PORT TOKEN. Exit status 0 and a last line `KUKSA CHECK OK`
mean every check passed; otherwise it names the check that failed.
"""
import signal
import sys

try:
    from kuksa_client.grpc import DataType, Datapoint, EntryType, VSSClient, VSSClientError
except ImportError as e:
    print(f"kuksa_client is not importable ({e}): pip install kuksa-client==0.6.0", flush=True)
    sys.exit(3)

POSITION = "Vehicle.Cabin.Sunroof.Position"  # int8 sensor, -100..100
SWITCH = "Vehicle.Cabin.Sunroof.Switch"  # string actuator with allowed values
SHADE = "Vehicle.Cabin.Sunroof.Shade.Position"  # uint8 actuator, 0..100
KNOB = "Vehicle.Cabin.Sunroof.Knob"  # float sensor, 0..100
TIMEOUT = 5


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def refused(call, *needles):
    """The VSSClientError `call` raises, checked to mention every needle."""
    try:
        call()
    except VSSClientError as e:
        text = str(e.to_dict())
        missing = [n for n in needles if n not in text]
        return (not missing, text)
    return (False, "it was accepted")


def value(client, path):
    dp = client.get_current_values([path], timeout=TIMEOUT)[path]
    return dp.value if dp is not None else None


def main(host, port, token):
    # A watchdog, so that a subscription that never delivers fails instead of hanging.
    signal.alarm(60)
    with VSSClient(host, port, token=token) as client:
        check(value(client, POSITION) == 42, "reads the sensor the Rust side set (Position == 42)")

        meta = client.get_metadata([POSITION], timeout=TIMEOUT)[POSITION]
        check(meta.data_type == DataType.INT8 and meta.entry_type == EntryType.SENSOR, f"metadata of Position: int8 sensor ({meta.data_type}, {meta.entry_type})")
        r = meta.value_restriction
        check(r is not None and (r.min, r.max) == (-100, 100), f"metadata of Position: bounds -100..100 ({r})")

        client.set_current_values({POSITION: Datapoint(-30)}, timeout=TIMEOUT)
        check(value(client, POSITION) == -30, "sets a sensor's current value and reads it back (-30)")

        client.set_target_values({SWITCH: Datapoint("OPEN")}, timeout=TIMEOUT)
        client.set_target_values({SHADE: Datapoint(70)}, timeout=TIMEOUT)
        targets = client.get_target_values([SWITCH, SHADE], timeout=TIMEOUT)
        check(targets[SWITCH].value == "OPEN" and targets[SHADE].value == 70, f"sets actuator targets and reads them back ({targets})")

        ok, text = refused(lambda: client.set_current_values({POSITION: Datapoint(101)}, timeout=TIMEOUT), POSITION, "100")
        check(ok, f"an out-of-range current value is refused, naming the path and the bound ({text})")
        check(value(client, POSITION) == -30, "the refused write changed nothing (Position still -30)")

        ok, text = refused(lambda: client.set_target_values({SWITCH: Datapoint("SIDEWAYS")}, timeout=TIMEOUT), SWITCH, "INACTIVE")
        check(ok, f"a target outside the allowed values is refused, listing them ({text})")
        check(client.get_target_values([SWITCH], timeout=TIMEOUT)[SWITCH].value == "OPEN", "the refused target changed nothing")

        ok, text = refused(lambda: client.get_current_values(["Vehicle.Cabin.Sunroof.Nope"], timeout=TIMEOUT), "404")
        check(ok, f"an unknown path is not found ({text})")

        subscription = client.subscribe_current_values([KNOB], timeout=30)
        first = next(subscription)
        check(KNOB in first, f"the subscription starts with the current value ({first})")
        print("SUBSCRIBED", flush=True)
        update = next(subscription)
        check(update.get(KNOB) is not None and update[KNOB].value == 12.5, f"the subscription receives the Rust side's update ({update})")
        with VSSClient(host, port, token=token) as other:
            other.set_current_values({KNOB: Datapoint(55.5)}, timeout=TIMEOUT)
        update = next(subscription)
        check(update[KNOB].value == 55.5, f"the subscription receives another client's update ({update})")

    for bad in ("wrong-token", None):
        with VSSClient(host, port, token=bad) as intruder:
            ok, text = refused(lambda: intruder.get_current_values([POSITION], timeout=TIMEOUT), "unauthenticated")
            check(ok, f"a call with token {bad!r} is refused as unauthenticated ({text})")
            ok, text = refused(lambda: intruder.set_current_values({POSITION: Datapoint(1)}, timeout=TIMEOUT), "unauthenticated")
            check(ok, f"a write with token {bad!r} is refused ({text})")

    print("KUKSA CHECK OK", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
