// detect_image MODEL IMAGE: loads a YOLOv5-family detector, runs it on one image and prints one
// line per box: class name, confidence, corners in the image's pixels.
#include <cstdio>

#include <spdinfer/engine/error.h>
#include <spdinfer/image/image.h>
#include <spdinfer/models/detector.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: detect_image MODEL IMAGE\n");
    return 2;
  }
  try {
    const spdinfer::Detector detector = spdinfer::Detector::load(argv[1]);
    const spdinfer::Image image = spdinfer::load_image(argv[2]);
    spdinfer::DetectOptions options;  // YOLOv5 detect.py's defaults: 640, conf 0.25, IoU 0.45
    for (const spdinfer::Detection& d : detector.detect(image, options))
      std::printf("%s %.4f %.2f %.2f %.2f %.2f\n", detector.class_names().at(d.class_id).c_str(), d.confidence,
                  d.x1, d.y1, d.x2, d.y2);
  } catch (const spdinfer::Error& e) {
    std::fprintf(stderr, "detect_image: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
