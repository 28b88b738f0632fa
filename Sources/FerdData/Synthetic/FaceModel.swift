/// The expression-driven part of a face at one instant. 0 everywhere is a neutral face; the
/// values are roughly in −1…1 (see `docs/SYNTHETIC-DATA.md` for what each one moves).
struct FaceActions: Sendable {
    /// Mouth corners up (+, smile) or down (−).
    var mouthCurve: Float = 0
    /// Lips apart.
    var mouthOpen: Float = 0
    /// Mouth wider (+) or narrower (−).
    var mouthWidth: Float = 0
    /// Eyebrows up (+) or down (−).
    var browRaise: Float = 0
    /// Inner brow ends down (+, frown) or up (−, worry).
    var browTilt: Float = 0
    /// Eyes wider (+) or narrower (−).
    var eyeOpen: Float = 0
    /// Cheeks raised, pushing the lower lids up and deepening the nasolabial folds.
    var cheekRaise: Float = 0
    /// Wrinkles across the nose bridge and a raised upper lip.
    var noseWrinkle: Float = 0
    /// One mouth corner pulled up more than the other.
    var mouthAsymmetry: Float = 0

    static let count = 9

    subscript(index: Int) -> Float {
        get {
            switch index {
            case 0: mouthCurve
            case 1: mouthOpen
            case 2: mouthWidth
            case 3: browRaise
            case 4: browTilt
            case 5: eyeOpen
            case 6: cheekRaise
            case 7: noseWrinkle
            default: mouthAsymmetry
            }
        }
        set {
            switch index {
            case 0: mouthCurve = newValue
            case 1: mouthOpen = newValue
            case 2: mouthWidth = newValue
            case 3: browRaise = newValue
            case 4: browTilt = newValue
            case 5: eyeOpen = newValue
            case 6: cheekRaise = newValue
            case 7: noseWrinkle = newValue
            default: mouthAsymmetry = newValue
            }
        }
    }

    /// `self + other · weight`, component-wise.
    func adding(_ other: FaceActions, weight: Float) -> FaceActions {
        var result = self
        for i in 0..<Self.count {
            result[i] += other[i] * weight
        }
        return result
    }

    /// The apex actions of a full-intensity prototypical expression (loosely after FACS).
    static func apex(_ expression: Emotion) -> FaceActions {
        switch expression {
        case .happy:
            FaceActions(mouthCurve: 1, mouthOpen: 0.35, mouthWidth: 0.35, eyeOpen: -0.2, cheekRaise: 1)
        case .sad:
            FaceActions(mouthCurve: -0.7, mouthWidth: -0.1, browRaise: 0.15, browTilt: -0.9, eyeOpen: -0.3)
        case .neutral:
            FaceActions()
        case .angry:
            FaceActions(mouthCurve: -0.3, mouthOpen: 0.1, mouthWidth: -0.2, browRaise: -0.6, browTilt: 1,
                        eyeOpen: 0.1, noseWrinkle: 0.25)
        case .surprise:
            FaceActions(mouthOpen: 1, mouthWidth: -0.35, browRaise: 1, eyeOpen: 0.8)
        case .disgust:
            FaceActions(mouthCurve: -0.45, mouthOpen: 0.15, browRaise: -0.25, browTilt: 0.45, eyeOpen: -0.35,
                        cheekRaise: 0.3, noseWrinkle: 1, mouthAsymmetry: 0.7)
        case .fear:
            FaceActions(mouthCurve: -0.25, mouthOpen: 0.5, mouthWidth: 0.45, browRaise: 0.6, browTilt: -0.6,
                        eyeOpen: 0.65)
        }
    }
}

/// What stays fixed for one synthetic person: face shape, feature layout, colours and the
/// person's resting expression.
struct FaceIdentity: Sendable {
    var faceHalfWidth: Float
    var faceHalfHeight: Float
    var eyeSpacing: Float
    var eyeHeight: Float
    var eyeSize: Float
    var browGap: Float
    var browThickness: Float
    var noseLength: Float
    var mouthHeight: Float
    var mouthHalfWidth: Float
    var lipThickness: Float
    var skin: Color
    var hair: Color
    var hairline: Float
    var iris: Color
    var lips: Color
    var background: (Color, Color)
    /// The person's resting face: a little sad-looking, frowning, sleepy, …
    var resting: FaceActions

    init(using rng: inout SplitMix64) {
        faceHalfWidth = rng.uniform(0.78...0.95)
        faceHalfHeight = faceHalfWidth * rng.uniform(1.2...1.45)
        eyeSpacing = rng.uniform(0.3...0.42)
        eyeHeight = rng.uniform(-0.22 ... -0.08)
        eyeSize = rng.uniform(0.16...0.22)
        browGap = rng.uniform(0.17...0.25)
        browThickness = rng.uniform(0.05...0.08)
        noseLength = rng.uniform(0.3...0.42)
        mouthHeight = rng.uniform(0.5...0.66)
        mouthHalfWidth = rng.uniform(0.28...0.38)
        lipThickness = rng.uniform(0.045...0.075)
        let tone = rng.uniform()
        skin = Color(235, 200, 170).mixed(with: Color(110, 70, 45), tone).mixed(with: Color(200, 160, 120), rng.uniform(0...0.3))
        hair = [Color(30, 22, 18), Color(80, 50, 30), Color(150, 110, 60), Color(120, 120, 120), Color(15, 15, 15)][
            Int(rng.next() % 5)]
        hairline = rng.uniform(-0.95 ... -0.6)
        iris = [Color(60, 40, 25), Color(70, 110, 150), Color(80, 110, 70), Color(30, 25, 20)][Int(rng.next() % 4)]
        lips = skin.mixed(with: Color(150, 40, 50), rng.uniform(0.65...0.9))
        let base = Color(rng.uniform(20...230), rng.uniform(20...230), rng.uniform(20...230))
        background = (base, base.mixed(with: Color(rng.uniform(0...255), rng.uniform(0...255), rng.uniform(0...255)), 0.6))
        resting = FaceActions()
        for i in 0..<FaceActions.count {
            resting[i] = rng.sumOfUniformsNormal(std: 0.08)
        }
    }
}

/// Onset → apex → offset: the expression's strength over a clip, 0…1 at a relative time 0…1.
struct TimeCourse: Sendable {
    var onsetStart: Float
    var apexStart: Float
    var apexEnd: Float
    var offsetEnd: Float

    /// A random course whose apex always covers part of the clip's middle (t ≈ 0.4…0.6).
    init(using rng: inout SplitMix64) {
        onsetStart = rng.uniform(-0.25...0.3)
        apexStart = onsetStart + rng.uniform(0.1...0.3)
        apexEnd = max(apexStart + rng.uniform(0.15...0.5), rng.uniform(0.4...0.6))
        offsetEnd = apexEnd + rng.uniform(0.1...0.35)
    }

    func strength(at t: Float) -> Float {
        func smooth(_ x: Float) -> Float {
            let c = min(max(x, 0), 1)
            return c * c * (3 - 2 * c)
        }
        if t < apexStart { return smooth((t - onsetStart) / (apexStart - onsetStart)) }
        if t <= apexEnd { return 1 }
        return 1 - smooth((t - apexEnd) / (offsetEnd - apexEnd))
    }
}
