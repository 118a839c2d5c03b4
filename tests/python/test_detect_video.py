"""End-to-end tests of `spdinfer detect` on videos and streams (apps/detect_video.cpp).

What it is: short videos made here with the ffmpeg CLI from the bundled scene
(assets/scenes/demo_scene.jpg), a 320x320 window moving by (2k, k) px in frame k, stored
losslessly (PNG frames in Matroska) so every decoder sees the same pixels. Each processed frame's
detections must equal `spdinfer detect` on the same frame extracted as a PNG by ffmpeg (same
classes, boxes within 1 px, same label files), with and without --slice; --vid-stride 3 must
process frames 1, 4, 7, ...; the annotated video must have the input's size and the processed
frames' count (ffprobe); bad inputs (truncated, audio only, a text file named .mp4, missing) must
each give one error line and exit 2, a corrupt frame in the middle a warning, a stream that never
sends a frame the timeout message, and a live stream sent faster than the detector runs must have
frames dropped and counted. Skips, saying why, when the binary was built without video support or
the ffmpeg CLI is missing.
What it is not: a test of FFmpeg's codecs, or of detection itself (test_detect.py).
"""

import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest
from pathlib import Path

from tests.python.cli_support import CliErrorAssertions, cli, run
from tests.python.helpers import REPO

MODEL = REPO / "assets" / "scenes_spd_yolov5n.safetensors"
SCENE = REPO / "assets" / "scenes" / "demo_scene.jpg"
FRAMES = 12
SIZE = 320
FPS = 25
BOX_TOL = 1.0  # px


def require_video():
    binary = cli()
    version = run(binary, "--version").stdout
    if "video: FFmpeg" not in version:
        raise unittest.SkipTest("spdinfer was built without video support (FFmpeg's libraries not found)")
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise unittest.SkipTest(f"the {tool} CLI is missing (Debian's ffmpeg; scripts/bootstrap installs it)")
    return binary


def ffmpeg(*args):
    done = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"ffmpeg {args}: {done.stderr}")


def probe(path):
    """(codec, width, height, frame rate text, decoded frame count) of the video stream."""
    done = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                           "stream=codec_name,width,height,r_frame_rate,nb_read_frames", "-of", "json", str(path)],
                          capture_output=True, text=True, timeout=120)
    s = json.loads(done.stdout)["streams"][0]
    return s["codec_name"], s["width"], s["height"], s["r_frame_rate"], int(s["nb_read_frames"])


def make_frames(directory, count):
    """`count` PNGs frame_001.png... : the scene's 320x320 window at (2k, k) in frame k."""
    from PIL import Image
    scene = Image.open(SCENE).convert("RGB")
    for k in range(count):
        scene.crop((2 * k, k, 2 * k + SIZE, k + SIZE)).save(directory / f"frame_{k + 1:03d}.png")


def detect(*args):
    """detect on ARGS; saving nothing (detect saves to runs/detect/exp... by default) unless --out is given."""
    save = () if "--out" in args else ("--nosave",)
    return run(cli(), "detect", MODEL, *args, *save, "--img", SIZE, "--threads", "2")


def json_lines(test, done):
    test.assertEqual(done.returncode, 0, done.stderr)
    return [json.loads(line) for line in done.stdout.splitlines()]


class VideoDetectTest(unittest.TestCase, CliErrorAssertions):

    @classmethod
    def setUpClass(cls):
        require_video()
        cls.tmp = tempfile.TemporaryDirectory(prefix="spdinfer-video-")
        cls.dir = Path(cls.tmp.name)
        make_frames(cls.dir, FRAMES)
        cls.video = cls.dir / "clip.mkv"
        ffmpeg("-framerate", FPS, "-i", cls.dir / "frame_%03d.png", "-c:v", "png", cls.video)
        # The frames as a video decoder sees them, extracted by ffmpeg itself.
        cls.extracted = cls.dir / "extracted"
        cls.extracted.mkdir()
        ffmpeg("-i", cls.video, "-vsync", "0", cls.extracted / "clip_%d.png")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def image_results(self, *args):
        """detect --json over the extracted frames, by 1-based frame number."""
        files = sorted(self.extracted.glob("clip_*.png"), key=lambda p: int(p.stem.split("_")[1]))
        return {int(Path(r["image"]).stem.split("_")[1]): r for r in json_lines(self, detect(*files, "--json", *args))}

    def assertSameDetections(self, frame, image):
        self.assertEqual((frame["width"], frame["height"]), (SIZE, SIZE))
        got = sorted(frame["detections"], key=lambda d: (d["class_id"], d["box"]))
        want = sorted(image["detections"], key=lambda d: (d["class_id"], d["box"]))
        self.assertEqual([d["class_name"] for d in got], [d["class_name"] for d in want], f"frame {frame['frame']}")
        for g, w in zip(got, want):
            self.assertLessEqual(max(abs(a - b) for a, b in zip(g["box"], w["box"])), BOX_TOL, (g, w))

    def test_every_frame_as_its_extracted_image(self):
        frames = json_lines(self, detect(self.video, "--json"))
        self.assertEqual([f["frame"] for f in frames], list(range(1, FRAMES + 1)))
        for f in frames:
            self.assertEqual(f["video"], str(self.video))
            self.assertAlmostEqual(f["time"], (f["frame"] - 1) / FPS, places=4)
        images = self.image_results()
        self.assertGreater(sum(len(f["detections"]) for f in frames), 0, "the scene gave no detections at all")
        for f in frames:
            self.assertSameDetections(f, images[f["frame"]])

    def test_batches_give_the_frames_own_detections(self):
        one = json_lines(self, detect(self.video, "--json"))
        batched = json_lines(self, detect(self.video, "--json", "--batch", 5))  # 5 + 5 + 2 frames
        self.assertEqual([f["frame"] for f in batched], [f["frame"] for f in one])
        for b, f in zip(batched, one):
            self.assertSameDetections(b, f)

    def test_two_videos_named_alike_are_refused(self):
        other = self.dir / "other" / "clip.mkv"
        other.parent.mkdir(exist_ok=True)
        shutil.copy(self.video, other)
        self.assertOneLineError(detect(self.video, other, "--out", self.dir / "out_twice"), str(other),
                                "would replace those of")

    def test_sliced_frames_as_sliced_images(self):
        args = ("--slice", "160x160", "--overlap", "0.2")
        frames = json_lines(self, detect(self.video, "--json", "--vid-stride", 4, *args))
        self.assertEqual([f["frame"] for f in frames], [1, 5, 9])
        images = self.image_results(*args)
        for f in frames:
            self.assertGreater(f["tiles"], 1)
            self.assertSameDetections(f, images[f["frame"]])

    def test_version_and_info_report_video_support(self):
        for done in (run(cli(), "--version"), run(cli(), "info", MODEL, "--no-layers")):
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertRegex(done.stdout, r"\nvideo: +FFmpeg \(libavformat \d+\.\d+\.\d+, .*\); writes "
                                          r"(H\.264 \(libx264\)|MPEG-4 part 2 \(mpeg4\))\n")

    def test_console_lines(self):
        done = detect(self.video)
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = done.stdout.splitlines()
        self.assertRegex(lines[0], rf"^video 1/1 \(frame 1/{FRAMES}\) {re.escape(str(self.video))}: 320x320 .*ms$")
        self.assertIn(f"{FRAMES} frames processed", done.stdout)
        self.assertRegex(lines[-1], r"^Speed: .*ms decode, .*ms inference, .*ms NMS per frame$")

    def test_vid_stride_writes_the_processed_frames(self):
        out = self.dir / "out_stride"
        done = detect(self.video, "--vid-stride", 3, "--out", out, "--save-txt", "--json")
        frames = json_lines(self, done)
        self.assertEqual([f["frame"] for f in frames], [1, 4, 7, 10])
        # Only the processed frames are written, at the frame rate divided by the stride: the
        # video keeps the input's duration.
        self.assertEqual(probe(out / "clip.mp4"), ("h264", SIZE, SIZE, f"{FPS}/3", 4))
        self.assertEqual(sorted(p.name for p in (out / "labels").iterdir()),
                         sorted(f"clip_{n}.txt" for n in (1, 4, 7, 10)))

    def test_annotated_video_and_labels_as_the_images(self):
        out, image_out = self.dir / "out_all", self.dir / "out_images"
        self.assertEqual(detect(self.video, "--out", out, "--save-txt").returncode, 0)
        self.assertEqual(probe(out / "clip.mp4"), ("h264", SIZE, SIZE, f"{FPS}/1", FRAMES))
        done = detect(self.extracted, "--out", image_out, "--save-txt")
        self.assertEqual(done.returncode, 0, done.stderr)
        for n in range(1, FRAMES + 1):
            want = image_out / "labels" / f"clip_{n}.txt"
            got = out / "labels" / f"clip_{n}.txt"
            self.assertEqual(got.read_text(), want.read_text() if want.exists() else "", f"frame {n}")

    def test_corrupt_frame_is_skipped_with_a_warning(self):
        packets = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=pos,size", "-of", "csv=p=0",
                                  str(self.video)], capture_output=True, text=True).stdout.split()
        size, pos = map(int, packets[4].split(","))
        data = bytearray(self.video.read_bytes())
        for i in range(pos + size // 3, pos + size // 3 + 64):
            data[i] ^= 0x5A
        corrupt = self.dir / "corrupt.mkv"
        corrupt.write_bytes(bytes(data))
        done = detect(corrupt, "--json")
        frames = json_lines(self, done)
        self.assertEqual([f["frame"] for f in frames], [n for n in range(1, FRAMES + 1) if n != 5])
        warnings = [line for line in done.stderr.splitlines() if line.startswith("spdinfer: warning:")]
        self.assertEqual(len(warnings), 1, done.stderr)
        self.assertIn(f"{corrupt}: frame 5 is corrupt, skipped", warnings[0])
        self.assertIn("1 corrupt frames skipped", done.stderr)

    def test_truncated_matroska_warns(self):
        cut = self.dir / "cut.mkv"
        cut.write_bytes(self.video.read_bytes()[: self.video.stat().st_size // 2])
        done = detect(cut, "--json")
        frames = json_lines(self, done)
        self.assertLess(len(frames), FRAMES - 1)
        self.assertIn(f"spdinfer: warning: {cut}: the video ended after {len(frames)} of its {FRAMES} frames; "
                      "the file may be truncated", done.stderr)

    def test_bad_inputs(self):
        h264 = self.dir / "h264.mp4"  # MP4's index (moov) comes last: a cut file has none
        ffmpeg("-i", self.video, "-c:v", "libx264", h264)
        truncated = self.dir / "truncated.mp4"
        truncated.write_bytes(h264.read_bytes()[:3000])
        audio = self.dir / "audio.mp4"
        ffmpeg("-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", audio)
        text = self.dir / "text.mp4"
        text.write_text("not a video\n")
        empty = self.dir / "empty.y4m"  # a header that says 0x0, and one frame
        empty.write_text("YUV4MPEG2 W0 H0 F25:1 Ip A1:1 C420jpeg\nFRAME\n")
        unknown_codec = self.dir / "unknown_codec.mkv"  # Matroska's codec id replaced by one no decoder knows
        ffmpeg("-i", self.video, "-c:v", "libx264", self.dir / "h264.mkv")
        unknown_codec.write_bytes((self.dir / "h264.mkv").read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_NOSUCH/CODEC1"))
        for path, why in ((truncated, "truncated"), (audio, "has no video stream"), (text, "not a video"),
                          (self.dir / "missing.mkv", "No such file"), (empty, "0x0"),
                          (unknown_codec, "no decoder in this FFmpeg for its video codec")):
            with self.subTest(path=path.name):
                self.assertOneLineError(detect(path), str(path), why)

    def test_output_would_replace_the_input(self):
        mp4 = self.dir / "same" / "clip.mp4"
        mp4.parent.mkdir()
        ffmpeg("-i", self.video, "-c:v", "libx264", mp4)
        self.assertOneLineError(detect(mp4, "--out", mp4.parent), "would overwrite this input video")


class StreamTest(unittest.TestCase, CliErrorAssertions):

    @classmethod
    def setUpClass(cls):
        require_video()

    def serve(self, payload):
        """A TCP server on 127.0.0.1 that accepts one connection and sends `payload` (None: nothing,
        holding the connection open); returns its tcp:// URL."""
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        self.addCleanup(server.close)

        def answer():
            conn, _ = server.accept()
            self.addCleanup(conn.close)
            if payload is not None:
                conn.sendall(payload)
                conn.close()

        threading.Thread(target=answer, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    def test_silent_stream_times_out(self):
        url = self.serve(None)
        done = detect(url, "--stream-timeout", "1")
        self.assertOneLineError(done, url, "no video frame received within 1 s")

    def test_live_stream_keeps_the_newest_frame(self):
        with tempfile.TemporaryDirectory(prefix="spdinfer-stream-") as tmp:
            tmp = Path(tmp)
            make_frames(tmp, 30)
            video = tmp / "live.mkv"
            ffmpeg("-framerate", FPS, "-i", tmp / "frame_%03d.png", "-c:v", "png", video)
            url = self.serve(video.read_bytes())
            # All 30 frames arrive at once: the reader decodes them far faster than the detector
            # runs, so most are replaced by newer ones before the detector takes them.
            done = detect(url, "--json", "--stream-timeout", "5")
            frames = json_lines(self, done)
            m = re.search(r"(\d+) frames processed, (\d+) frames dropped while the detector was busy", done.stderr)
            self.assertIsNotNone(m, done.stderr)
            processed, dropped = int(m.group(1)), int(m.group(2))
            self.assertEqual(processed, len(frames))
            self.assertEqual(processed + dropped, 30)
            self.assertGreater(dropped, 0)
            self.assertEqual(frames[-1]["frame"], 30)  # the newest frame is never dropped
            numbers = [f["frame"] for f in frames]
            self.assertEqual(numbers, sorted(set(numbers)))
            self.assertRegex(done.stderr, rf"video 1/1 \(frame \d+\) {re.escape(url)}: ")


if __name__ == "__main__":
    unittest.main()
