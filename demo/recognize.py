"""``crossglg-recognize``: the live pipeline without a window, printing one JSON line per decision.

    crossglg-recognize --source clip.mp4 --enroll wave=1.0-3.0 --enroll bow=5-7
    crossglg-recognize --source clip.mp4 --gallery ~/my-gallery --save-session clip-poses.npz
    crossglg-recognize --skeleton Seq1_2.csv --enroll punch=3.0-5.0     # a recorded skeleton stream
    crossglg-recognize --source clip.mp4 --enroll wave=1-3 --enroll-idle 8-10  # idle: never a label

Every frame of a file is processed in order (no frame dropping, inline inference), so a run is
reproducible; a camera index or stream URL is recognised as it plays (no --enroll there, time counts
from the first frame). ``--skeleton`` replays a skeleton recording (any format the readers know, or a
pose session saved by the app or by --save-session) through the same recogniser, on the recording's
own clock. Lines on stdout:
``{"time": s, "label": ..., "score": ..., "top": [[name, score], ...]}``; messages go to stderr.

Exit codes: 0 done; 2 bad arguments or a malformed / unknown skeleton file; 3 the source cannot be opened
or read; 4 no usable model, pose model or gallery; 5 an --enroll segment holds no pose; 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_SOURCE, EXIT_MODEL, EXIT_ENROL = 0, 1, 2, 3, 4, 5


@dataclass
class Enrolment:
    name: str
    start: float
    end: float
    background: bool = False  # an idle example (crossglg.oneshot.IDLE), never a label


def parse_enrolment(text: str, option: str = "--enroll") -> Enrolment:
    """'NAME=START-END' (seconds) -> Enrolment; argparse turns the ValueError into a usage error."""
    name, sep, span = text.rpartition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{option} {text!r}: expected NAME=START-END (seconds)")
    try:
        start_s, end_s = span.split("-", 1)
        start, end = float(start_s), float(end_s)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{option} {text!r}: START-END must be two numbers, e.g. 1.5-3.5"
        ) from None
    if not 0 <= start < end:
        raise argparse.ArgumentTypeError(f"{option} {text!r}: need 0 <= START < END")
    return Enrolment(name.strip(), start, end)


def parse_idle_enrolment(text: str) -> Enrolment:
    """'START-END' -> an idle Enrolment, the command-line twin of the app's "Record idle"."""
    from crossglg.oneshot import IDLE

    if "=" in text:
        raise argparse.ArgumentTypeError(f"--enroll-idle {text!r}: expected START-END (seconds), no name")
    return replace(parse_enrolment(f"{IDLE}={text}", "--enroll-idle"), background=True)


def session_path(text: str) -> Path:
    """--save-session FILE: a pose session file ends in .npz (checked before any work is done)."""
    if not text.lower().endswith(".npz"):
        raise argparse.ArgumentTypeError(f"--save-session {text!r}: a pose session file must end in .npz")
    return Path(text)


def build_parser() -> argparse.ArgumentParser:
    from crossglg.streaming import STREAM_FORMATS

    p = argparse.ArgumentParser(prog="crossglg-recognize", description=__doc__.split("\n\n")[0])
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--source", help="video file, or a camera index / stream URL (live)")
    what.add_argument(
        "--skeleton",
        type=Path,
        metavar="FILE",
        help="a skeleton recording (Kinect files, PRECOG / MSRC-12 sessions, a pose session)",
    )
    p.add_argument(
        "--format",
        choices=STREAM_FORMATS,
        help="the --skeleton file's format (default: detected from its name and first line)",
    )
    p.add_argument(
        "--save-session",
        type=session_path,
        metavar="FILE.npz",
        help="with --source: also save the poses as a pose session that --skeleton replays",
    )
    p.add_argument(
        "--gallery",
        type=Path,
        help="gallery folder (default: none with --enroll, else the app's, else the starter one)",
    )
    p.add_argument(
        "--enroll",
        action="append",
        type=parse_enrolment,
        default=[],
        metavar="NAME=START-END",
        help="enrol the segment START-END (seconds of the source) as class NAME; repeatable",
    )
    p.add_argument(
        "--enroll-idle",
        dest="enroll",
        action="append",
        type=parse_idle_enrolment,
        metavar="START-END",
        help="enrol the segment as an idle example (the person between actions): never a label, a "
        "decision nearer to it than to every class is 'unknown'; repeatable",
    )
    p.add_argument(
        "--either-hand",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="an exemplar also matches its left-right mirror (default: the gallery's setting)",
    )
    p.add_argument("--save-gallery", type=Path, help="write the gallery (with enrolments) to this folder")
    p.add_argument("--checkpoint", type=Path, help="model checkpoint folder (default: the shipped model)")
    p.add_argument("--backend", default="auto", help="auto | tensorrt | tensorrt-rtx | onnxruntime | torch")
    p.add_argument("--pose-model", type=Path, help="MediaPipe pose_landmarker_*.task (lite/full/heavy)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="operating point of the open-set rule (default: the level calibrated on validation "
        "data; higher answers 'unknown' more often)",
    )
    p.add_argument("--margin", type=float, default=0.0, help="required lead of the best class")
    p.add_argument("--stride", type=int, help="decide every N frames (default: the app's)")
    p.add_argument("--smoothing", type=int, help="windows averaged per decision (default: the app's)")
    p.add_argument("--window-seconds", type=float, help="time one window covers (default: the app's)")
    p.add_argument(
        "--hold",
        type=int,
        default=None,
        help="decisions in a row a new label needs before it is shown (default: the app's)",
    )
    p.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: whole source)")
    p.add_argument(
        "--unmirror",
        action="store_true",
        help="flip frames horizontally first (for mirrored recordings, e.g. NTU's Kinect RGB)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug messages, tracebacks and MediaPipe's own log lines (filtered by default)",
    )
    return p


def extract_poses(source, estimator, *, max_frames: int = 0, unmirror: bool = False):
    """Run pose estimation on every frame of an opened source: (timestamps (T,), [Pose | None])."""
    import cv2

    times, poses = [], []
    while (frame := source.read()) is not None:
        image = cv2.flip(frame.image, 1) if unmirror else frame.image
        poses.append(estimator.process(image, frame.timestamp).main)
        times.append(frame.timestamp)
        if max_frames and len(times) >= max_frames:
            break
    return np.asarray(times, np.float64), poses


def stream(
    source,
    estimator,
    recognizer,
    out,
    *,
    max_frames: int = 0,
    unmirror: bool = False,
    fed: list | None = None,
) -> int:
    """Live sources (camera, stream): print decisions as frames arrive; time counts from the first frame.
    ``fed`` collects (time, pose) as given to the recognizer (for --save-session)."""
    import cv2

    start, count = None, 0
    while (frame := source.read()) is not None:
        start = frame.timestamp if start is None else start
        image = cv2.flip(frame.image, 1) if unmirror else frame.image
        pose = estimator.process(image, frame.timestamp).main
        if fed is not None:
            fed.append((frame.timestamp - start, pose))
        prediction = recognizer.feed(frame.timestamp - start, pose)
        if prediction is not None:
            print(json.dumps(prediction.as_json()), file=out, flush=True)
        count += 1
        if max_frames and count >= max_frames:
            break
    return count


def segment_window(times: np.ndarray, poses: list, start: float, end: float) -> np.ndarray:
    """The canonical window of the (MediaPipe) poses between ``start`` and ``end`` seconds."""
    from demo.live import cut_window
    from demo.live.windows import MEDIAPIPE_LAYOUT

    world = [p.world if p is not None else None for p in poses]
    return cut_window(times, world, MEDIAPIPE_LAYOUT, start, end)


def save_session(path: Path, source_name: str, times, poses, say) -> bool:
    """Write the poses fed to the recognizer as a pose session (the app's format and code)."""
    from demo.live import SessionRecorder

    recorder = SessionRecorder(max_frames=0)
    recorder.clear(source_name)
    for t, pose in zip(times, poses, strict=True):
        recorder.add(float(t), pose)
    try:
        saved = recorder.save(path)
    except (OSError, ValueError) as exc:
        say(f"cannot save the pose session to {path}: {exc}")
        return False
    say(f"saved the pose session ({saved.frames} frames, {saved.seconds:.1f} s) to {saved.path}")
    return True


def enrol_all(args, gallery, embedder, window_of, say) -> int:
    """--enroll segments into the gallery (``window_of(start, end)`` cuts one); an exit code."""
    name = args.source if args.skeleton is None else str(args.skeleton)
    for enrol in args.enroll:
        try:
            window = window_of(enrol.start, enrol.end)
        except LookupError as exc:
            say(f"--enroll{'-idle' if enrol.background else ''} {enrol.name}: {exc}")
            return EXIT_ENROL
        source = f"{name}@{enrol.start:g}-{enrol.end:g}"
        try:
            gallery.add(
                enrol.name, embedder.embed(window[None]), window[None], source, background=enrol.background
            )
        except ValueError as exc:  # e.g. --enroll idle=... and --enroll-idle together
            say(f"--enroll {enrol.name}: {exc}")
            return EXIT_USAGE
        kind = " (idle, never a label)" if enrol.background else ""
        say(f"enrolled {enrol.name!r}{kind} from {enrol.start:g}-{enrol.end:g} s")
    if gallery.either_hand:
        gallery.embed_mirrors(embedder)  # enrolled exemplars match their mirror too
    if args.save_gallery:
        gallery.save(args.save_gallery)
    if len(gallery) == 0:
        say("the gallery is empty: every answer will be 'unknown' (use --enroll or --gallery)")
    return EXIT_OK


def read_skeleton(args, say):
    """The --skeleton recording's segments, or an exit code (2: malformed or unknown; 3: unreadable)."""
    from crossglg.data import SkeletonFormatError
    from crossglg.streaming import read_stream

    try:
        return read_stream(args.skeleton, args.format)
    except FileNotFoundError as exc:
        say(str(exc))
        return EXIT_SOURCE
    except (SkeletonFormatError, ValueError) as exc:  # the message names the file and the line or field
        say(str(exc))
        return EXIT_USAGE
    except OSError as exc:
        say(f"{args.skeleton}: cannot read ({exc})")
        return EXIT_SOURCE


def run_skeleton(args, segments, embedder, gallery, settings, out, say) -> int:
    """--skeleton: enrol from the recording, then replay it through the app's recogniser."""
    from demo.live import cut_window, replay, stream_frames

    layout = segments[0].layout
    pieces = [stream_frames(segment) for segment in segments]
    times = np.concatenate([t for t, _ in pieces])
    frames = [f for _, seg_frames in pieces for f in seg_frames]
    if args.max_frames:
        times, frames = times[: args.max_frames], frames[: args.max_frames]
    found = sum(f is not None for f in frames)
    say(
        f"{len(frames)} frames ({layout}, {len(segments)} segment(s)), a skeleton in {found}, "
        f"{times[0]:.3f}-{times[-1]:.3f} s"
    )
    code = enrol_all(args, gallery, embedder, lambda a, b: cut_window(times, frames, layout, a, b), say)
    if code != EXIT_OK:
        return code
    replay(
        segments,
        embedder,
        gallery,
        settings,
        max_frames=args.max_frames,
        on_prediction=lambda p: print(json.dumps(p.as_json()), file=out, flush=True),
    )
    return EXIT_OK


def run(args, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    from crossglg.oneshot import Gallery, GalleryError
    from demo.capture import SourceError
    from demo.live import Matcher, Recognizer, Settings
    from demo.runtime import ModelUnavailable, load_embedder

    def say(text: str) -> None:
        print(f"crossglg-recognize: {text}", file=err)

    given = {k: getattr(args, k) for k in ("threshold", "stride", "smoothing", "hold", "window_seconds")}
    settings, problems = Settings.from_json(
        {"margin": args.margin, **{k: v for k, v in given.items() if v is not None}}
    )  # the app's default for every option not given
    if problems:
        for problem in problems:
            say(problem.rsplit(": using the default", 1)[0])
        return EXIT_USAGE
    segments = None
    if args.skeleton is not None:  # a bad file is reported before the model loads
        segments = read_skeleton(args, say)
        if isinstance(segments, int):
            return segments
    try:
        embedder, backend_name = load_embedder(args.checkpoint, args.backend)
    except (ModelUnavailable, RuntimeError) as exc:
        say(str(exc))
        return EXIT_MODEL
    rest = embedder.no_action
    say(
        f"model {embedder.model_hash[:12]} on {backend_name}"
        + ("" if rest is None else f", {len(rest)} no-action examples as background")
    )

    if args.gallery is not None or not args.enroll:
        from crossglg.oneshot import GALLERY_FILE
        from demo.store import STARTER_GALLERY, default_gallery_dir

        folder = args.gallery or default_gallery_dir()
        if args.gallery is None and not (folder / GALLERY_FILE).is_file():
            say(f"no gallery at {folder} yet (the app creates it): using the starter gallery")
            folder = STARTER_GALLERY
        try:
            gallery = Gallery.load(folder)
            if gallery.model_hash != embedder.model_hash:
                say(f"gallery {folder} was embedded by another model: re-embedding its windows")
                gallery = gallery.reembed(embedder)
        except (GalleryError, ValueError) as exc:
            say(f"cannot use gallery {folder}: {exc}")
            return EXIT_MODEL
    else:
        gallery = Gallery(embedder.dim, embedder.model_hash)
    if args.either_hand is not None:
        gallery.either_hand = args.either_hand
    if gallery.either_hand:
        gallery.embed_mirrors(embedder)
    if segments is not None:
        return run_skeleton(args, segments, embedder, gallery, settings, out, say)

    from demo.capture import VideoSource
    from demo.pose import PoseEstimator

    try:
        estimator = PoseEstimator(args.pose_model)
    except (FileNotFoundError, ValueError) as exc:
        say(str(exc))
        return EXIT_MODEL
    try:
        source = VideoSource(args.source, on_status=say)
    except SourceError as exc:
        estimator.close()
        say(str(exc))
        return EXIT_SOURCE
    try:
        if not source.is_file:
            if args.enroll:
                say("--enroll needs a video file (a live source has no segments to cut in advance)")
                return EXIT_USAGE
            recognizer = Recognizer(Matcher(embedder, gallery, settings), settings, asynchronous=False)
            fed: list[tuple[float, object]] = []
            try:
                count = stream(
                    source,
                    estimator,
                    recognizer,
                    out,
                    max_frames=args.max_frames,
                    unmirror=args.unmirror,
                    fed=fed if args.save_session else None,
                )
            finally:  # an interrupted run keeps what it saw
                if args.save_session and fed:
                    fed_times = [t for t, _ in fed]
                    fed_poses = [pose for _, pose in fed]
                    save_session(args.save_session, source.name, fed_times, fed_poses, say)
            say(f"{source.name}: {count} frames")
            return EXIT_OK
        times, poses = extract_poses(source, estimator, max_frames=args.max_frames, unmirror=args.unmirror)
        source_name = source.name
    finally:
        source.close()
        estimator.close()
    if len(times) == 0:
        say(f"{args.source}: no frame could be read")
        return EXIT_SOURCE
    found = sum(p is not None for p in poses)
    say(f"{len(times)} frames, a pose in {found}")
    if args.save_session and not save_session(args.save_session, source_name, times, poses, say):
        return EXIT_ERROR

    code = enrol_all(args, gallery, embedder, lambda a, b: segment_window(times, poses, a, b), say)
    if code != EXIT_OK:
        return code

    recognizer = Recognizer(Matcher(embedder, gallery, settings), settings, asynchronous=False)
    for t, pose in zip(times, poses, strict=True):
        prediction = recognizer.feed(float(t), pose)
        if prediction is not None:
            print(json.dumps(prediction.as_json()), file=out, flush=True)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.skeleton is not None:
        for flag, given in (
            ("--unmirror", args.unmirror),
            ("--pose-model", args.pose_model),
            ("--save-session", args.save_session),
        ):
            if given:
                parser.error(f"{flag} applies to --source (a video), not to --skeleton")
    elif args.format:
        parser.error("--format names the format of a --skeleton file")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from demo import native_logs

    native_logs.configure(verbose=args.verbose)  # before MediaPipe loads
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a script gets one line and a non-zero code, not a traceback
        if args.verbose:
            raise
        print(f"crossglg-recognize: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
