"""Photo pipeline benchmark: ours vs a naive Pillow version vs the floor.

    .venv/bin/python bench/photos/run.py [--repeats 7]

Generates a 24 MP and a 12 MP camera-like JPEG (quality 95, EXIF orientation 6, GPS,
XMP, IPTC, comment) and, for two output sets, times three ways of producing the same
outputs from the same file:

- pipeline: `media_manager.pipeline.process_photo` (checks, draft decode, resize,
  orientation, sRGB, metadata-free encode, variants from the previous variant, hashes);
- naive: full decode, `exif_transpose` at full size, one LANCZOS resize per output from
  the full image, same encoder settings;
- floor: only what any pipeline must do: decode at the needed JPEG scale (draft) and
  encode the outputs (the encoder inputs are prepared outside the timer).

Output sets: "portal" = master 2048 + large 1280, medium 640, thumb 320 (what the app
makes); "spark8" = master 2048 + 1600, 1280, 1024, 800, 640, 300 + thumb 160 (Spark's
eight sizes). Prints medians, ratios, peak RSS of a fresh child process per mode, and PSNR
of each of our outputs against the naive LANCZOS output (pixels before encoding, and the
decoded JPEGs).

Then, isolation included (`media_manager.isolation`, its fork server warm as in a running
web or worker process), exactly what the upload request and the worker run for the 24 MP
photo: the check of the uploaded file, the processing with the digest the upload handler
computed, the worker's digest of the master; CPU of every process involved (this one, the
job processes' CPU per job as they report it, the fork server's share) against the floor of
the same run, and each job's page faults.
And the CPU of the upload check of a 64x48 JPEG, at p50 over many runs.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import hashlib
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageOps  # noqa: E402

from media_manager.checks import MediaLimits  # noqa: E402
from media_manager.isolation import Outcome, fork_server, run_isolated  # noqa: E402
from media_manager.pipeline import (  # noqa: E402
    MASTER_QUALITY,
    RESAMPLER,
    VARIANT_QUALITY,
    VARIANTS,
    process_photo,
    render_photo,
)
from tests.media_manager import samples  # noqa: E402

PHOTOS = {"24MP": (6000, 4000), "12MP": (4000, 3000)}
OUTPUT_SETS = {
    "portal": dict(VARIANTS),
    "spark8": {"1600": 1600, "1280": 1280, "1024": 1024, "800": 800, "640": 640, "300": 300, "thumb": 160},
}
LIMITS = MediaLimits()
MiB = 1024 * 1024
MODES = ("pipeline", "naive", "floor")


def make_photos(directory: Path) -> dict[str, Path]:
    paths = {}
    for name, (w, h) in PHOTOS.items():
        path = directory / f"{name}.jpg"
        # Sensor-shaped pixels with orientation 6, as a camera held upright writes them.
        stored = samples.photo_like(w, h, seed=1)
        path.write_bytes(samples.camera_jpeg(stored, orientation=6, quality=95))
        paths[name] = path
    return paths


def encode(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality, optimize=True, subsampling="4:2:0", comment=b"")
    return buf.getvalue()


def quality_for(name: str) -> int:
    return MASTER_QUALITY if name == "master" else VARIANT_QUALITY


Sizes = dict[str, tuple[int, int]]


def our_sizes(path: Path, variants: dict[str, int]) -> Sizes:
    """The outputs all three modes produce: the sizes our pipeline chose."""
    result = process_photo(path, limits=LIMITS, variants=variants)
    return {"master": (result.width, result.height), **result.sizes}


def run_pipeline(path: Path, variants: dict[str, int]) -> dict[str, bytes]:
    result = process_photo(path, limits=LIMITS, variants=variants)
    return {"master": result.master, **result.variants}


def naive_images(path: Path, sizes: Sizes) -> dict[str, Image.Image]:
    with Image.open(path) as opened:
        full = ImageOps.exif_transpose(opened).convert("RGB")
    return {name: full.resize(size, Image.Resampling.LANCZOS) for name, size in sizes.items()}


def run_naive(path: Path, sizes: Sizes) -> dict[str, bytes]:
    return {name: encode(image, quality_for(name)) for name, image in naive_images(path, sizes).items()}


def run_floor(path: Path, prepared: dict[str, Image.Image]) -> dict[str, bytes]:
    with Image.open(path) as image:
        master = prepared["master"].size
        if (image.width > image.height) != (master[0] > master[1]):
            master = (master[1], master[0])
        image.draft("RGB", master)  # the smallest 1/2^n scale that covers the master
        image.load()
    return {name: encode(im, quality_for(name)) for name, im in prepared.items()}


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) over `repeats` runs after one warm-up.

    Every mode is single-threaded, so CPU time is what it would take on an idle core;
    the wall time is also reported but suffers when other work shares the machine.
    """
    fn()  # warm-up: imports, ICC and page cache
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall)


# Pillow's C calls, as cProfile names them, and the part of the work each one is.
_PARTS = {
    "<method 'decode' of 'ImagingDecoder' objects>": "decode",
    "<method 'resize' of 'ImagingCore' objects>": "resample",
    "<method 'encode' of 'ImagingEncoder' objects>": "encode",
    "<method 'transpose' of 'ImagingCore' objects>": "transpose",
    # libvips runs its whole pipeline (with LIBVIPS: the JPEG's decode and every resize) here.
    "<built-in method _libvips.vips_image_write_to_memory>": "libvips",
}


def breakdown(fn: Callable[[], object], runs: int = 3) -> str:
    """Where `fn`'s CPU goes, by Pillow's C calls: cProfile on the CPU clock over `runs` runs."""
    profile = cProfile.Profile(time.process_time)
    for _ in range(runs):
        profile.runcall(fn)
    parts = dict.fromkeys(_PARTS.values(), 0.0)
    total = 0.0
    for (_, _, name), (_, _, own, _, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        total += own
        if name in _PARTS:
            parts[_PARTS[name]] += own
    parts["rest"] = total - sum(parts.values())
    return ", ".join(f"{part} {seconds / runs * 1000:.0f}" for part, seconds in parts.items()) + " ms"


def timed_together(fns: Mapping[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """`timed` for several functions at once, their runs interleaved (one of each per round)."""
    for fn in fns.values():
        fn()  # warm-up
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    wall: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name])) for name in fns}


def child_peak_rss(mode: str, path: Path, output_set: str, sizes: Sizes) -> float:
    """Peak RSS (MiB) of a fresh interpreter that runs `mode` once."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), output_set, json.dumps(sizes)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)["peak_rss_mib"]


def child_main(mode: str, path: Path, output_set: str, sizes_json: str) -> None:
    sizes = {name: tuple(size) for name, size in json.loads(sizes_json).items()}
    if mode == "pipeline":
        run_pipeline(path, OUTPUT_SETS[output_set])
    elif mode == "naive":
        run_naive(path, sizes)
    elif mode == "floor":
        # Encoder inputs of the right sizes; their content hardly changes the peak.
        run_floor(path, {name: Image.new("RGB", size) for name, size in sizes.items()})
    elif mode != "baseline":
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"peak_rss_mib": peak_rss_bytes() / MiB}))


def peak_rss_bytes() -> int:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) parent across
    # fork+exec, VmHWM belongs to the new address space.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def psnr_table(path: Path, variants: dict[str, int], sizes: Sizes) -> dict[str, tuple[float, float, float]]:
    """Per output: PSNR (dB) against the naive LANCZOS pixels of
    (ours before encoding, our delivered JPEG, the naive JPEG): the first isolates our
    shortcuts, the last is what JPEG alone costs, so the middle should sit next to it."""
    ours = render_photo(path, limits=LIMITS, variants=variants)
    ours_bytes = {"master": ours.result.master, **ours.result.variants}
    table = {}
    for name, ref in naive_images(path, sizes).items():
        naive_jpeg = Image.open(io.BytesIO(encode(ref, quality_for(name))))
        ours_jpeg = Image.open(io.BytesIO(ours_bytes[name]))
        table[name] = (
            samples.psnr(ours.images[name], ref),
            samples.psnr(ours_jpeg, ref),
            samples.psnr(naive_jpeg, ref),
        )
    return table


def fork_server_cpu_seconds() -> float:
    """CPU the fork server has used so far (it hands out, watches and reports every job, and
    forks a job process when none is idle)."""
    pid = fork_server.pid
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def job_cpu(outcome: Outcome) -> float:
    # The job process's CPU for this job (since its job before: a reused job process serves
    # many); its fork, when it was forked for this job, is in the server's own CPU, counted
    # once, from /proc, by the callers.
    assert outcome.stats is not None, outcome.rejected
    return outcome.stats.cpu_seconds


def isolated_cpu(fn: Callable[[], list[Outcome]], repeats: int) -> tuple[list[float], list[Outcome]]:
    """CPU seconds per call of `fn`, every process counted: this one (request building, reply
    parsing and checking), the job processes and the fork server's hand-over and watch (the
    server's share is its CPU over all the runs, divided evenly: its clock ticks are 10 ms
    apart)."""
    fn()  # warm-up: the fork server starts here, and the page cache fills
    server_before = fork_server_cpu_seconds()
    per_run, outcomes = [], []
    for _ in range(repeats):
        c0 = time.process_time()
        ran = fn()
        per_run.append(time.process_time() - c0 + sum(job_cpu(o) for o in ran))
        outcomes += ran
    server_share = (fork_server_cpu_seconds() - server_before) / repeats
    return [cpu + server_share for cpu in per_run], outcomes


def end_to_end(path: Path, variants: dict[str, int], source_sha256: str) -> list[Outcome]:
    """What the upload request and the worker run for one photo, isolation included: the
    request's check of the temp file, the worker's processing with the digest the upload
    handler computed, and the worker's digest of the master it stores and pushes."""
    checked = run_isolated("inspect_photo", path, limits=LIMITS)
    checked.unwrap()
    options = {"rotate_quarter_turns": 0, "variants": variants, "source_sha256": source_sha256}
    processed = run_isolated("process_photo", path, limits=LIMITS, options=options)
    hashlib.sha256(processed.unwrap().master).hexdigest()
    return [checked, processed]


def isolation_figures(directory: Path, photo: Path, floors: dict[str, float], repeats: int) -> list:
    """End to end with isolation on the 24 MP photo, per output set, and the upload check
    of a small photo; ratios against the floors measured above in this same run."""
    verdicts = []
    source_sha256 = hashlib.sha256(photo.read_bytes()).hexdigest()
    for set_name, variants in OUTPUT_SETS.items():
        # The floor and the in-process pipeline again, interleaved with the isolated runs: on
        # a shared machine the CPU cost of the same work drifts from one minute to the next.
        prepared = render_photo(photo, limits=LIMITS, variants=variants).images
        floor_cpu, pipeline_cpu, isolated = [], [], []
        parts: dict[str, list[float]] = {"check job": [], "process job": [], "this process": []}
        faults: dict[str, list[int]] = {"check job": [], "process job": []}
        outcomes: list[Outcome] = []
        end_to_end(photo, variants, source_sha256)  # warm-up
        server_before = fork_server_cpu_seconds()
        for _ in range(repeats):
            floor_cpu.append(timed(functools.partial(run_floor, photo, prepared), 1)[0])
            pipeline_cpu.append(timed(functools.partial(run_pipeline, photo, variants), 1)[0])
            c0 = time.process_time()
            ran = end_to_end(photo, variants, source_sha256)
            here = time.process_time() - c0
            isolated.append(here + sum(job_cpu(o) for o in ran))
            parts["check job"].append(job_cpu(ran[0]))
            parts["process job"].append(job_cpu(ran[1]))
            parts["this process"].append(here)
            for name, outcome in zip(faults, ran, strict=True):
                assert outcome.stats is not None
                faults[name].append(outcome.stats.page_faults)
            outcomes += ran
        server_share = (fork_server_cpu_seconds() - server_before) / repeats
        floor, cpu = statistics.median(floor_cpu), statistics.median(isolated) + server_share
        ratio = cpu / floor
        peak = max(o.stats.peak_rss_bytes for o in outcomes if o.stats) / MiB
        print(
            f"   24MP/{set_name:6s} check + process, isolated: {cpu * 1000:4.0f} ms CPU p50"
            f" = {ratio:.2f}x the floor (target <= 1.6; floor {floor * 1000:.0f} ms interleaved,"
            f" {floors[set_name] * 1000:.0f} ms above), in-process pipeline"
            f" {statistics.median(pipeline_cpu) * 1000:.0f} ms, peak RSS per job {peak:3.0f} MiB"
        )
        # Where the isolated figure goes beyond the in-process one: the check's job, the
        # processing job (the same work as in process, in a warm job process), this process
        # (the requests, reading and checking the replies, the worker's digest of the master)
        # and the fork server's hand-over and watch.
        print(
            "     of which "
            + ", ".join(f"{name} {statistics.median(cpus) * 1000:.1f}" for name, cpus in parts.items())
            + f", fork server {server_share * 1000:.1f} ms (p50 each); page faults "
            + ", ".join(f"{name} {statistics.median(counts):.0f}" for name, counts in faults.items())
        )
        verdicts += [
            (f"24MP/{set_name} end to end with isolation <= 1.6x floor (CPU)", ratio <= 1.6),
            (f"24MP/{set_name} peak RSS per isolated job < 100 MiB", peak < 100),
        ]
    tiny = directory / "tiny.jpg"
    tiny.write_bytes(samples.encode(samples.photo_like(64, 48), "JPEG"))
    cpus, outcomes = isolated_cpu(
        lambda: [run_isolated("inspect_photo", tiny, limits=LIMITS)], 4 * repeats + 1
    )
    cpus.sort()
    elapsed = statistics.median(o.elapsed_seconds for o in outcomes)
    p50 = statistics.median(cpus)
    print(
        f"   upload check of a 64x48 JPEG: {p50 * 1000:4.1f} ms CPU p50, {cpus[-1] * 1000:4.1f} ms max "
        f"(target p50 <= 25), {elapsed * 1000:4.0f} ms elapsed p50"
    )
    verdicts.append(("upload check of a small photo <= 25 ms CPU at p50", p50 <= 0.025))
    for label, op, path in (("process 64x48 JPEG", "process_photo", tiny),):
        cpus, outcomes = isolated_cpu(
            lambda op=op, path=path: [run_isolated(op, path, limits=LIMITS)], repeats
        )
        print(f"   {label}: {statistics.median(cpus) * 1000:4.1f} ms CPU p50, isolation included")
    return verdicts


def load_average() -> str:
    """The machine's load average (1, 5, 15 min): the CPU figures are per process, but a busy
    machine still moves them (caches, frequency), so each run says how busy it was."""
    return "load average " + ", ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", nargs=4, metavar=("MODE", "PATH", "SET", "SIZES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child[0], Path(args.child[1]), args.child[2], args.child[3])
        return

    with tempfile.TemporaryDirectory(prefix="bench-photos-") as tmp:
        start = time.perf_counter()
        photos = make_photos(Path(tmp))
        print(
            f"fixtures generated in {time.perf_counter() - start:.1f} s: "
            + ", ".join(f"{n} {p.stat().st_size / 1e6:.1f} MB" for n, p in photos.items())
        )
        print(f"pipeline resampler: {RESAMPLER.name}; {load_average()} at the start")
        baseline = child_peak_rss("baseline", photos["24MP"], "portal", {})
        print(f"peak RSS of an interpreter that only imports Pillow and the app: {baseline:.0f} MiB\n")
        verdicts = []
        floors: dict[str, float] = {}
        for photo, path in photos.items():
            for set_name, variants in OUTPUT_SETS.items():
                sizes = our_sizes(path, variants)
                prepared = render_photo(path, limits=LIMITS, variants=variants).images
                # Pipeline and floor alternate run by run: on a shared machine the CPU cost of
                # the same work drifts from one second to the next, and their ratio is the figure.
                runs = {
                    "pipeline": functools.partial(run_pipeline, path, variants),
                    "floor": functools.partial(run_floor, path, prepared),
                }
                t = timed_together(runs, args.repeats)
                t["naive"] = timed(functools.partial(run_naive, path, sizes), max(3, args.repeats // 2))
                rss = {mode: child_peak_rss(mode, path, set_name, sizes) for mode in MODES}
                psnrs = psnr_table(path, variants, sizes)
                outputs = ", ".join(f"{n} {max(size)}" for n, size in sizes.items())
                print(f"== {photo} / {set_name}: {outputs}")
                for mode in MODES:
                    cpu, wall = t[mode]
                    print(
                        f"   {mode:9s} {cpu * 1000:6.0f} ms CPU ({wall * 1000:6.0f} ms wall)"
                        f"   peak RSS {rss[mode]:4.0f} MiB"
                    )
                if photo == "24MP":
                    floors[set_name] = t["floor"][0]
                ratio_floor = t["pipeline"][0] / t["floor"][0]
                speedup = t["naive"][0] / t["pipeline"][0]
                print(
                    f"   pipeline/floor {ratio_floor:.2f}x (target <= 2.0)   naive/pipeline {speedup:.1f}x"
                    + (" (target >= 6 on 24 MP)" if photo == "24MP" else "")
                )
                if photo == "24MP":
                    print(f"   where the CPU goes, pipeline: {breakdown(runs['pipeline'])}")
                    print(f"                       floor:    {breakdown(runs['floor'])}")
                worst_pixels = min(p[0] for p in psnrs.values())
                jpeg_gap = max(p[2] - p[1] for p in psnrs.values())
                print("   PSNR vs naive LANCZOS pixels, ours before encoding / our JPEG / naive JPEG (dB):")
                print("     " + ", ".join(f"{n} {a:.1f}/{b:.1f}/{c:.1f}" for n, (a, b, c) in psnrs.items()))
                label = f"{photo}/{set_name}"
                verdicts += [
                    (f"{label} pipeline <= 2.0x floor (CPU)", ratio_floor <= 2.0),
                    (f"{label} pipeline peak RSS < 100 MiB", rss["pipeline"] < 100),
                    (f"{label} every output >= 40 dB before encoding", worst_pixels >= 40),
                    (f"{label} our JPEGs within 1 dB of the naive JPEGs", jpeg_gap <= 1),
                ]
                if photo == "24MP":
                    verdicts.append((f"{label} >= 6x faster than naive (CPU)", speedup >= 6))
        print(
            "\n== isolated, as the request and the worker run it (media_manager.isolation fork server);"
            f" {load_average()}"
        )
        verdicts += isolation_figures(Path(tmp), photos["24MP"], floors, args.repeats)
        print(f"\n{load_average()} at the end")
        for label, ok in verdicts:
            print(f"{'PASS' if ok else 'FAIL'}  {label}")


if __name__ == "__main__":
    main()
