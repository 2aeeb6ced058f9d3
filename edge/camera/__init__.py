"""The camera gateway: frames in, contract `det` messages out.

    sources.py    file / device index / RTSP, reconnecting when a stream drops
    motion.py     the shared stage: MOG2 motion at reduced size + a long-term
                  background (what the street looks like when nothing is there)
    detectors/    plug-ins behind one small interface (`Detector.observe`)
    reporter.py   turns per-frame observations into start / update / end
    snapshot.py   JPEG with the box drawn, under the contract's 200 KiB
    pipeline.py   one camera: motion stage, detectors, reporter, per frame
    agent.py      source -> pipeline at the detection rate -> outbox
    app.py        `gridwatch edge camera`: the composition root

A persistent thing is one track: a Detection with `phase: "start"` when it is
confirmed, `phase: "update"` at most every `update_s` while it lasts and
`phase: "end"` once it has been gone `end_after_s`; all carry the same `track`.
`phase` is an extra field, which the contract keeps.
"""
