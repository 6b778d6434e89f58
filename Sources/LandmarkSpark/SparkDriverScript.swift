/// The PySpark program `spark-submit` runs for every distributed job.
///
/// It knows nothing of landmarks: the plan names tasks, each a `landmark` command line that writes its
/// own output durably and can run again without harm (an index shard resumes from its checkpoints and
/// reuses what it described; a kNN block rewrites the same bytes). Each task runs on an executor as a
/// subprocess; a task that fails (a killed worker, a lost executor, a second copy that finds the shard
/// locked) is reported, not raised, so one failure does not stop the others, and the failed tasks run
/// again in the next round, up to `rounds` rounds. That works the same on `local[N]`, where Spark itself
/// never retries a task, and on a cluster.
///
/// Kept in the binary rather than beside it, so that the tool needs no file but itself; the job writes
/// it into its work folder and passes that path to `spark-submit`.
enum SparkDriverScript {
    static let fileName = "landmark_spark_driver.py"

    static let source = #"""
    # Written by `landmark` for spark-submit; regenerated on every run, edits are lost.
    import json
    import os
    import socket
    import subprocess
    import sys
    import time

    from pyspark import SparkConf, SparkContext


    def run_task(task):
        started = time.time()
        try:
            done = subprocess.run(task["argv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=dict(os.environ, **task.get("env", {})))
            code, out, err = done.returncode, done.stdout, done.stderr
        except OSError as error:
            code, out, err = 127, b"", str(error).encode()
        return {
            "name": task["name"],
            "exitCode": code,
            "accepted": code in task.get("acceptedExitCodes", [0]),
            "stdout": out.decode("utf-8", "replace")[-4000:],
            "stderr": err.decode("utf-8", "replace")[-4000:],
            "seconds": time.time() - started,
            "host": socket.gethostname(),
        }


    def main():
        with open(sys.argv[1]) as handle:
            plan = json.load(handle)
        result_path = sys.argv[2]
        conf = SparkConf().setAppName(plan["name"])
        sc = SparkContext(conf=conf)
        sc.setLogLevel("ERROR")
        tasks = {task["name"]: task for task in plan["tasks"]}
        pending = [task["name"] for task in plan["tasks"]]
        results = {}
        rounds = 0
        while pending and rounds < plan["rounds"]:
            rounds += 1
            batch = [tasks[name] for name in pending]
            outcomes = sc.parallelize(batch, len(batch)).map(run_task).collect()
            pending = []
            for outcome in outcomes:
                outcome["attempts"] = results.get(outcome["name"], {}).get("attempts", 0) + 1
                results[outcome["name"]] = outcome
                state = "done" if outcome["accepted"] else "FAILED (exit %d)" % outcome["exitCode"]
                print("spark: %s %s on %s in %.1f s" % (outcome["name"], state, outcome["host"], outcome["seconds"]),
                      flush=True)
                if not outcome["accepted"]:
                    pending.append(outcome["name"])
            if pending and rounds < plan["rounds"]:
                print("spark: running %d failed task(s) again" % len(pending), flush=True)
        sc.stop()
        report = {"rounds": rounds, "results": [results[task["name"]] for task in plan["tasks"]]}
        temporary = result_path + ".tmp-%d" % os.getpid()
        with open(temporary, "w") as handle:
            json.dump(report, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, result_path)
        sys.exit(1 if pending else 0)


    if __name__ == "__main__":
        main()
    """#
}
