/// The experiment `ferd demo` runs when no file is given: the text of Configs/demo.yaml, embedded so
/// that the binary runs the demo anywhere (a test keeps the two identical).
public enum DemoExperiment {
    public static let yaml = """
# The embedded default that `ferd demo` runs: the small preset on synthetic DFEW-format data (balanced
# classes, mild variability), a λ sweep over two folds, 10 epochs — about 2–3 minutes on 2 cores, the best
# trial well above chance (docs/DEMO.md).
name: demo
data:
  path: synthetic            # ferd demo generates (or reuses) a synthetic dataset here
  layout: reorganised
folds: [1, 2]
seeds: 1
retries: 2
trial_time_limit: 20m
grid:
  preset: small
  attention: gca
  lambda: [0, 0.1]
  r: 16
  lr: 0.01
  weight_decay: 0.0001
  epochs: 10
  batch: 8
  schedule: step
"""
}
