#!/usr/bin/env python3
"""Kills `xfmr compile` and `xfmr tune` at random points and checks what is
left: the previous compiled model or the new one, whole (`xfmr verify` and
byte-identical to a compile that finished), or nothing where there was
nothing; a tuning database that SQLite finds intact and xfmr reads.

usage: kill_during_write.py XFMR WORKDIR SEEDS
"""
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time


def run(*args, **kw):
    return subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw)


def files_of(d):
    return {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))}


def kill_after(cmd, delay):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()
    return p.returncode


def main():
    xfmr, work, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    models = {}
    for name, seed in (("a", 3), ("b", 4)):
        run(xfmr, "init-model", name, "--layers", "1", "--embd", "32", "--heads", "2",
            "--ctx", "16", "--vocab", "64", "--seed", str(seed), check=True)
        t0 = time.time()
        run(xfmr, "compile", name, "-o", "ref-" + name, check=True)
        models[name] = (files_of("ref-" + name), time.time() - t0)
    failures = 0

    def check(where, allowed, seed, delay):
        nonlocal failures
        if not os.path.exists("out"):
            ok = None in allowed
            got = "nothing"
        else:
            v = run(xfmr, "verify", "out")
            got = next((k for k in allowed if k and files_of("out") == models[k][0]), None)
            ok = v.returncode == 0 and got is not None
            got = got or "a damaged model: " + v.stdout.strip()
        if not ok:
            failures += 1
            print(f"FAIL {where} seed {seed} after {delay:.3f} s: found {got}")

    # compile: into a fresh OUT (nothing before), and over a previous model.
    for seed in range(seeds):
        rnd = random.Random(seed)
        for previous in (None, "a"):
            shutil.rmtree("out", ignore_errors=True)
            if previous:
                run(xfmr, "compile", previous, "-o", "out", check=True)
            delay = rnd.uniform(0, 1.3 * models["b"][1])
            kill_after([xfmr, "compile", "b", "-o", "out"], delay)
            check("compile over " + (previous or "nothing"), (previous, "b"), seed, delay)
            # The next compile to OUT cleans up after the killed one.
            run(xfmr, "compile", "b", "-o", "out", check=True)
            check("compile after the kill", ("b",), seed, delay)
            stale = [f for f in os.listdir(".") if "xfmr-tmp" in f]
            if stale:
                failures += 1
                print(f"FAIL seed {seed}: temporary directories left: {stale}")

    # Kills at the commit's own steps (XFMR_TEST_KILL_AT): before the move,
    # before and after the exchange with the previous model.
    for point, allowed in (("commit", ("a",)), ("before-exchange", ("a",)),
                           ("after-exchange", ("b",))):
        shutil.rmtree("out", ignore_errors=True)
        run(xfmr, "compile", "a", "-o", "out", check=True)
        env = dict(os.environ, XFMR_TEST_KILL_AT=point)
        subprocess.run([xfmr, "compile", "b", "-o", "out"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        check("kill at " + point, allowed, 0, 0.0)
        run(xfmr, "compile", "b", "-o", "out", check=True)
        stale = [f for f in os.listdir(".") if "xfmr-tmp" in f]
        if stale:
            failures += 1
            print(f"FAIL kill at {point}: temporary directories left: {stale}")

    # Two compiles to one OUT at once: both finish, neither deletes the
    # other's files mid-write, and OUT is one of the two models, whole.
    for seed in range(seeds):
        shutil.rmtree("out", ignore_errors=True)
        first, second = ("a", "b") if seed % 2 else ("b", "a")
        procs = [subprocess.Popen([xfmr, "compile", m, "-o", "out"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for m in (first, second)]
        errors = [p.communicate()[1] for p in procs]
        if any(p.returncode != 0 for p in procs):
            failures += 1
            print(f"FAIL concurrent compiles seed {seed}: {errors}")
        check("two compiles at once", ("a", "b"), seed, 0.0)

    # tune: the database stays consistent whenever the tuner dies.
    for seed in range(seeds):
        rnd = random.Random(1000 + seed)
        delay = rnd.uniform(0.2, 6.0)
        kill_after([xfmr, "tune", "a", "--db", "tune.db", "--budget", "20s", "--trials", "3"],
                   delay)
        if os.path.exists("tune.db"):
            db = sqlite3.connect("tune.db")
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
            db.close()
            listing = run(xfmr, "tune-db", "list", "tune.db")
            if integrity != "ok" or listing.returncode != 0:
                failures += 1
                print(f"FAIL tune seed {seed} after {delay:.3f} s: integrity {integrity}, "
                      f"list: {listing.stdout.strip()}")
    total = 4 * seeds + 3 + seeds + seeds
    print(f"{total - failures} of {total} checks after kills: ok" if not failures else
          f"{failures} of {total} checks failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
