"""Cases: every problem found (detections, sensor alerts, field reports) becomes one
case, owned by a department, with a deadline, through the closed loop of digital
urban management (report, register, dispatch, handle, verify, close, evaluate)."""
