# Runs the Spark script's day selection (read_days, complete_days) on crafted
# records, hour after hour, and checks that no run shrinks a day of the
# summary. Called by schema TestSparkScriptKeepsEveryDay with the rendered
# script and its lookback: python3 log_summary_days.py SCRIPT LOOKBACK.
#
# Stand-ins (no Spark, no Firehose here): Firehose is modelled as objects that
# close every BUFFER seconds of arrival time, filed under the UTC arrival day
# of their oldest record (Firehose dev guide, s3-prefixes: "the approximate
# arrival timestamp of the oldest record that's contained in the Amazon S3
# object"); Spark's dynamic partition overwrite as "every day the run writes
# rows for is replaced by those rows" (spark.sql.sources.partitionOverwriteMode
# docs). The script's own functions decide what is read and what is written.
# Only the standard library of python3-minimal (no unittest, no json).
import importlib.util
import sys
from collections import Counter
from datetime import datetime, timedelta

BUFFER = timedelta(seconds=300)  # schema default of firehose.bufferingSeconds
OFFSET = timedelta(seconds=37)  # objects do not open at midnight
START = datetime(2027, 1, 1)
DAYS = 10


def load(path):
    spec = importlib.util.spec_from_file_location("log_summary", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines the functions; main runs only as __main__
    return module


def records():
    # (event time, arrival time): one line a minute, 10 s in transit.
    out = []
    t = START
    while t < START + timedelta(days=DAYS):
        out.append((t, t + timedelta(seconds=10)))
        t += timedelta(minutes=1)
    # Written 5 s before midnight, arrives 5 s after: filed under the next day.
    out.append((datetime(2027, 1, 3, 23, 59, 55), datetime(2027, 1, 4, 0, 0, 5)))
    # Written and arrived just after midnight, in an object opened before
    # midnight (as is every day's first line here): filed under the day before.
    out.append((datetime(2027, 1, 6, 0, 0, 1), datetime(2027, 1, 6, 0, 0, 2)))
    # Replayed by a restarted shipper four days late (its tail DB offset).
    out.append((datetime(2027, 1, 2, 12, 0, 30), datetime(2027, 1, 6, 9, 0, 0)))
    return out


def firehose(recs):
    # Each record's folder (the arrival day of its object's oldest record)
    # and when its object is in S3.
    def opened(arrival):
        return START + OFFSET + ((arrival - START - OFFSET) // BUFFER) * BUFFER

    oldest = {}
    for _, arrival in recs:
        o = opened(arrival)
        oldest[o] = min(oldest.get(o, arrival), arrival)
    return [(event, oldest[opened(arrival)].date(), opened(arrival) + BUFFER) for event, arrival in recs]


def main(script_path, lookback):
    script = load(script_path)
    recs = records()
    filed = firehose(recs)
    table = {}  # dt -> records summarised (the log_summary partitions)
    last_write = {}  # dt -> time of the last run that overwrote it
    for hour in range(DAYS * 24):
        now = START + timedelta(hours=hour, minutes=20)  # cron(20 * * * ? *)
        today = now.date()
        read = set(script.read_days(today, lookback))
        written = set(script.complete_days(today, lookback))
        rows = Counter(event.date() for event, folder, in_s3 in filed if in_s3 <= now and folder in read)
        for dt, n in rows.items():
            if dt in written:  # the script keeps only these rows
                table[dt] = n
                last_write[dt] = now
    # Every day the runs finished with holds every record of that day that
    # was in S3 by its last run: none was replaced by a few late rows.
    failures = []
    for dt in sorted(last_write):
        if last_write[dt].date() >= START.date() + timedelta(days=DAYS - 1):
            continue  # still being rewritten at the end of the simulation
        expected = sum(1 for event, _, in_s3 in filed if event.date() == dt and in_s3 <= last_write[dt])
        if table[dt] != expected:
            failures.append("%s: %d records summarised, %d written and in S3 by its last run" % (dt, table[dt], expected))
    days = [START.date() + timedelta(days=n) for n in range(DAYS - lookback)]
    missing = [d for d in days if d not in table]
    if missing:
        failures.append("days never summarised: %s" % missing)
    if failures:
        fail("\n".join(failures))
    for dt in sorted(table):
        print(dt, table[dt])


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
