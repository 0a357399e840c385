"""Reads a segrun training run's TensorBoard events with TensorBoard's own reader and checks every scalar
against the run's log.jsonl, and that each epoch has a decodable PNG of the validation overlays.
Usage: python3 Benchmarks/peers/tensorboard_check.py RUN_FOLDER TENSORBOARD_FOLDER   (pip install tensorboard)"""
import io, json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run, logdir = sys.argv[1], sys.argv[2]
records = [json.loads(l) for l in open(run + "/log.jsonl")]
acc = EventAccumulator(logdir, size_guidance={"scalars": 0, "images": 0})
acc.Reload()
tags = acc.Tags()
pairs = {"loss/train": "train_loss", "loss/validation": "val_loss", "dice/pooled": "val_dice",
         "iou/pooled": "val_iou", "dice/where_present": "val_dice_present", "learning_rate": "lr",
         "speed/images_per_second": "images_per_s"}
checked = 0
for tag, field in pairs.items():
    events = {e.step: e.value for e in acc.Scalars(tag)}
    for r in records:
        want = r[field]
        got = events[r["epoch"]]
        # Written as float32: equal to the float32 of log.jsonl's double.
        assert abs(got - want) <= 6e-8 * abs(want), (tag, r["epoch"], got, want)
        checked += 1
# Per class: each epoch's values are log.jsonl's val_class_dice (classes absent from the validation set,
# -1 there, are not written).
per_class = {t: {e.step: e.value for e in acc.Scalars(t)} for t in tags["scalars"] if t.startswith("dice_per_class/")}
for r in records:
    got = sorted(v[r["epoch"]] for v in per_class.values())
    want = sorted(d for d in r["val_class_dice"] if d >= 0)
    assert len(got) == len(want) and all(abs(a - b) <= 6e-8 * abs(b) for a, b in zip(got, want)), (r["epoch"], got, want)
    checked += len(got)
images = acc.Images("validation/overlays")
assert len(images) == len(records), (len(images), len(records))
from PIL import Image
for im in images:
    picture = Image.open(io.BytesIO(im.encoded_image_string))
    assert picture.size == (im.width, im.height), (picture.size, im.width, im.height)
print("TensorBoard's reader: %d scalars equal log.jsonl's (float32), %d overlay images decode (%dx%d); tags: %s"
      % (checked, len(images), images[0].width, images[0].height, ", ".join(sorted(tags["scalars"]))))
