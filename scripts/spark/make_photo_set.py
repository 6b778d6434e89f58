#!/usr/bin/env python3
"""Makes a folder of N real photographs for the Spark benchmark: the devset and trainset photos, then
mirrored and cropped variants of them (each a new JPEG a descriptor sees as a different image) until
there are N. Needs Pillow. Usage: make_photo_set.py OUT N SOURCE_FOLDER..."""
import os
import sys

from PIL import Image, ImageOps


def main():
    out, count, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    photos = sorted(os.path.join(root, name) for source in sources for root, _, names in os.walk(source)
                    for name in names if name.lower().endswith((".jpg", ".jpeg", ".png")))
    if not photos:
        sys.exit("make_photo_set: no photographs in " + " ".join(sources))
    made = 0
    variant = 0
    while made < count:
        for path in photos:
            if made == count:
                break
            image = Image.open(path).convert("RGB")
            if variant % 2 == 1:
                image = ImageOps.mirror(image)
            if variant >= 2:
                shrink = 1 - 0.08 * (variant // 2)
                width, height = image.size
                left, top = int(width * (1 - shrink) / 2), int(height * (1 - shrink) / 2)
                image = image.crop((left, top, left + int(width * shrink), top + int(height * shrink)))
            name = "v%d_%s.jpg" % (variant, os.path.splitext(os.path.basename(path))[0])
            image.save(os.path.join(out, "%04d_%s" % (made, name)), quality=90)
            made += 1
        variant += 1
    print("make_photo_set: %d photographs in %s" % (made, out))


if __name__ == "__main__":
    main()
