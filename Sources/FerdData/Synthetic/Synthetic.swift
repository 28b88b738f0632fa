import Foundation

/// One generated clip: its emotion, how strongly it is shown at the apex, and its frames.
public struct SyntheticClip: Sendable {
    public var emotion: Emotion
    /// The apex intensity, 0…1 (the low ones look almost neutral).
    public var intensity: Float
    public var frames: [RGBImage]
}

/// A rectangle that covers part of the frame (a hand, a microphone, another head …).
private struct Occluder {
    var x: Float, y: Float, width: Float, height: Float
    var dx: Float, dy: Float
    var color: Color
    var visible: ClosedRange<Float>
}

/// Everything random about one clip, drawn from the clip's own generator so that clip k depends only
/// on (seed, k).
struct SyntheticClipRecipe {
    let emotion: Emotion
    let intensity: Float
    let identity: FaceIdentity
    let expressionActions: FaceActions
    let idleActions: FaceActions
    let idlePhase: Float
    let course: TimeCourse
    let talking: (amplitude: Float, frequency: Float, phase: Float)
    let pose: (roll: Float, yaw: Float, x: Float, y: Float, scale: Float)
    let wobble: (amplitude: Float, frequency: Float, phase: Float)
    let gaze: (Float, Float)
    let light: (angle: Float, strength: Float, brightness: Float, contrast: Float)
    let blurPasses: Int
    let noise: Float
    private let occluders: [Occluder]
    private let frameSeed: UInt64

    init(emotion: Emotion, seed: UInt64, index: Int, variability: SyntheticDataset.Variability = .realistic) {
        var rng = SplitMix64(seed: seed, index: UInt64(index))
        self.emotion = emotion
        let drawnIntensity = rng.chance(0.25) ? rng.uniform(0.15...0.4) : rng.uniform(0.6...1)
        // Mild clips draw the same numbers (so realistic ones stay as they were) and then show less of the nuisance.
        let mild = variability == .mild
        intensity = mild ? 0.75 + 0.25 * drawnIntensity : drawnIntensity
        identity = FaceIdentity(using: &rng)
        var actions = FaceActions.apex(emotion)
        for i in 0..<FaceActions.count {
            actions[i] = actions[i] * (1 + rng.sumOfUniformsNormal(std: 0.15)) + rng.sumOfUniformsNormal(std: 0.05)
        }
        expressionActions = actions
        var idle = FaceActions()
        for i in 0..<FaceActions.count {
            idle[i] = rng.sumOfUniformsNormal(std: 0.08)
        }
        idleActions = idle
        idlePhase = rng.uniform(0...6.283)
        course = TimeCourse(using: &rng)
        let drawnTalking: (amplitude: Float, frequency: Float, phase: Float) = rng.chance(0.25)
            ? (rng.uniform(0.1...0.25), rng.uniform(2...6), rng.uniform(0...6.283)) : (0, 0, 0)
        talking = mild ? (0, 0, 0) : drawnTalking
        let drawnPose = (rng.sumOfUniformsNormal(std: 0.08), max(-0.4, min(0.4, rng.sumOfUniformsNormal(std: 0.15))),
                         rng.sumOfUniformsNormal(std: 0.025), 0.5 + rng.sumOfUniformsNormal(std: 0.02), rng.uniform(0.92...1.08))
        let drawnWobble = (rng.uniform(0...0.04), rng.uniform(0.3...2), rng.uniform(0...6.283))
        let drawnGaze = (rng.sumOfUniformsNormal(std: 0.4), rng.sumOfUniformsNormal(std: 0.4))
        let drawnLight = (rng.uniform(0...6.283), rng.uniform(0...0.3), rng.uniform(0.8...1.15), rng.uniform(0.85...1.15))
        if mild {
            let calm = Self.mildScale
            pose = (drawnPose.0 * calm, drawnPose.1 * calm, drawnPose.2 * calm, 0.5 + (drawnPose.3 - 0.5) * calm,
                    1 + (drawnPose.4 - 1) * calm)
            wobble = (drawnWobble.0 * calm, drawnWobble.1, drawnWobble.2)
            gaze = (drawnGaze.0 * calm, drawnGaze.1 * calm)
            light = (drawnLight.0, drawnLight.1 * calm, 1 + (drawnLight.2 - 1) * calm, 1 + (drawnLight.3 - 1) * calm)
        } else {
            pose = drawnPose
            wobble = drawnWobble
            gaze = drawnGaze
            light = drawnLight
        }
        let blur = rng.uniform()
        blurPasses = mild || blur < 0.65 ? 0 : (blur < 0.93 ? 1 : 2)
        let drawnNoise = rng.uniform(0...6)
        noise = mild ? drawnNoise * Self.mildScale : drawnNoise
        var occluders = [Occluder]()
        if rng.chance(0.2) {
            for _ in 0..<(1 + Int(rng.next() % 2)) {
                let hand = rng.chance(0.5)
                let start = rng.uniform(-0.2...0.8)
                occluders.append(Occluder(
                    x: rng.uniform(-0.1...0.9), y: rng.uniform(-0.1...0.9),
                    width: rng.uniform(0.1...0.3), height: rng.uniform(0.1...0.3),
                    dx: rng.sumOfUniformsNormal(std: 0.15), dy: rng.sumOfUniformsNormal(std: 0.15),
                    color: hand ? identity.skin.scaled(rng.uniform(0.8...1.05))
                        : Color(rng.uniform(0...255), rng.uniform(0...255), rng.uniform(0...255)),
                    visible: rng.chance(0.5) ? -1...2 : start...(start + rng.uniform(0.2...0.8))))
            }
        }
        self.occluders = mild ? [] : occluders
        frameSeed = rng.next()
    }

    /// How much of the drawn pose, gaze, lighting and noise variation mild clips keep.
    static let mildScale: Float = 0.4

    /// The face's half-height as a fraction of the frame side (before the per-clip scale jitter).
    static let faceFraction: Float = 0.44

    /// The face's actions at relative time `t` (0…1).
    func actions(at t: Float) -> FaceActions {
        let strength = intensity * course.strength(at: t)
        var actions = identity.resting
            .adding(expressionActions, weight: strength)
            .adding(idleActions, weight: sin(6.283 * t + idlePhase))
        if talking.amplitude > 0 {
            let cycle: Float = sin(6.283 * talking.frequency * t + talking.phase)
            actions.mouthOpen += talking.amplitude * max(0, cycle)
        }
        return actions
    }

    /// Renders frame `index` of `count` into `pixels` (`size × size × 3` bytes).
    func render(frame index: Int, of count: Int, size: Int, into pixels: UnsafeMutableBufferPointer<UInt8>) {
        var rng = SplitMix64(seed: frameSeed, index: UInt64(index))
        let t = count > 1 ? Float(index) / Float(count - 1) : 0.5
        let sway = wobble.amplitude * sin(6.283 * wobble.frequency * t + wobble.phase)
        let side = Float(size)
        fillBackground(pixels, size: size)
        let canvas = Canvas(pixels: pixels, size: size,
                            centerX: side * (0.5 + pose.x + sway * 0.3), centerY: side * pose.y,
                            scale: side * Self.faceFraction / identity.faceHalfHeight * pose.scale, roll: pose.roll + sway)
        let blink: Float = rng.chance(0.06) ? 0.12 : 1
        FaceRenderer(identity: identity, actions: actions(at: t), yaw: pose.yaw + sway, lidOpening: blink,
                     gaze: gaze).draw(on: canvas)
        drawOccluders(pixels, size: size, t: t)
        for _ in 0..<blurPasses {
            Self.blur(pixels, size: size)
        }
        finish(pixels, size: size, rng: &rng)
    }

    private func fillBackground(_ pixels: UnsafeMutableBufferPointer<UInt8>, size: Int) {
        let (top, bottom) = identity.background
        for y in 0..<size {
            let c = top.mixed(with: bottom, Float(y) / Float(size))
            let row = y * size * 3
            pixels[row] = Canvas.byte(c.r)
            pixels[row + 1] = Canvas.byte(c.g)
            pixels[row + 2] = Canvas.byte(c.b)
            var filled = 3
            while filled < size * 3 {
                let chunk = min(filled, size * 3 - filled)
                UnsafeMutableRawPointer(pixels.baseAddress! + row + filled)
                    .copyMemory(from: pixels.baseAddress! + row, byteCount: chunk)
                filled += chunk
            }
        }
    }

    private func drawOccluders(_ pixels: UnsafeMutableBufferPointer<UInt8>, size: Int, t: Float) {
        let side = Float(size)
        for o in occluders where o.visible.contains(t) {
            let x0 = max(0, Int((o.x + o.dx * t) * side)), y0 = max(0, Int((o.y + o.dy * t) * side))
            let x1 = min(size, Int((o.x + o.dx * t + o.width) * side))
            let y1 = min(size, Int((o.y + o.dy * t + o.height) * side))
            guard x0 < x1, y0 < y1 else { continue }
            let r = UInt8(min(max(o.color.r, 0), 255)), g = UInt8(min(max(o.color.g, 0), 255))
            let b = UInt8(min(max(o.color.b, 0), 255))
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let p = (y * size + x) * 3
                    pixels[p] = r
                    pixels[p + 1] = g
                    pixels[p + 2] = b
                }
            }
        }
    }

    /// One [1 2 1]/4 pass in each direction (edges clamped).
    static func blur(_ pixels: UnsafeMutableBufferPointer<UInt8>, size: Int) {
        let row = size * 3
        var scratch = [UInt8](repeating: 0, count: 2 * row)
        scratch.withUnsafeMutableBufferPointer { scratch in
            let line = scratch.baseAddress!, previous = scratch.baseAddress! + row
            for y in 0..<size {
                let base = pixels.baseAddress! + y * row
                line.update(from: base, count: row)
                for i in 0..<row {
                    let left = line[i >= 3 ? i - 3 : i], right = line[i + 3 < row ? i + 3 : i]
                    base[i] = UInt8(truncatingIfNeeded: (UInt16(left) + 2 * UInt16(line[i]) + UInt16(right) + 2) >> 2)
                }
            }
            previous.update(from: pixels.baseAddress!, count: row)
            for y in 0..<size {
                let base = pixels.baseAddress! + y * row
                let next = pixels.baseAddress! + min(y + 1, size - 1) * row
                line.update(from: base, count: row)
                for i in 0..<row {
                    let sum = UInt16(previous[i]) + 2 * UInt16(line[i]) + UInt16(next[i]) + 2
                    base[i] = UInt8(truncatingIfNeeded: sum >> 2)
                }
                previous.update(from: line, count: row)
            }
        }
    }

    /// Lighting gradient, brightness, contrast and sensor noise, in 16-bit fixed point.
    private func finish(_ pixels: UnsafeMutableBufferPointer<UInt8>, size: Int, rng: inout SplitMix64) {
        let gx = cos(light.angle) * light.strength * 2 / Float(size)
        let gy = sin(light.angle) * light.strength * 2 / Float(size)
        let half = Float(size) / 2
        let gain = light.brightness * light.contrast
        let offset = Int32(128 * (1 - light.contrast) * 65536) + 32768
        let amplitude = Int32(noise / 255 * 65536)
        let stepX = Int32(gx * gain * 65536)
        for y in 0..<size {
            var factor = Int32((1 + (Float(y) - half) * gy - half * gx) * gain * 65536)
            let row = pixels.baseAddress! + y * size * 3
            for x in 0..<size {
                let bits = amplitude > 0 ? rng.next() : 0x7F80_7F80_7F80
                for c in 0..<3 {
                    let shift = UInt64(16 * c)
                    let a = Int32(truncatingIfNeeded: (bits >> shift) & 0xFF)
                    let b = Int32(truncatingIfNeeded: (bits >> (shift + 8)) & 0xFF)
                    let value = (Int32(row[3 * x + c]) &* factor &+ offset &+ (a &+ b &- 255) &* amplitude) >> 16
                    row[3 * x + c] = UInt8(truncatingIfNeeded: min(max(value, 0), 255))
                }
                factor &+= stepX
            }
        }
    }
}
