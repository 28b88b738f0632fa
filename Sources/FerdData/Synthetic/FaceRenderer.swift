import Foundation

/// Draws one procedural face (hair, face, eyes, brows, nose, mouth) onto a `Canvas`.
struct FaceRenderer {
    let identity: FaceIdentity
    let actions: FaceActions
    /// Head turn: inner features shift sideways, the nose most (−0.5…0.5).
    let yaw: Float
    /// Eyelid closure from blinking: 1 open, 0 shut.
    let lidOpening: Float
    let gaze: (Float, Float)

    func draw(on canvas: Canvas) {
        drawHeadAndHair(canvas)
        for side: Float in [-1, 1] {
            drawBrow(canvas, side: side)
            drawEye(canvas, side: side)
        }
        drawForeheadLines(canvas)
        drawNose(canvas)
        drawMouth(canvas)
    }

    private var shadow: Color { identity.skin.scaled(0.62) }

    private func drawHeadAndHair(_ canvas: Canvas) {
        let id = identity
        canvas.fillEllipse(u: 0, v: id.faceHalfHeight * 0.95, radiusU: id.faceHalfWidth * 0.5,
                           radiusV: id.faceHalfHeight * 0.5, color: id.skin.scaled(0.8))
        let rw = id.faceHalfWidth, rh = id.faceHalfHeight
        let hairU = rw * 1.13, hairV = rh * 1.04, hairCenter: Float = -0.12
        let shift = yaw * 0.12
        let fringeEnd = id.hairline + 0.06
        let faceShape = EllipseCoverage(radiusU: rw, radiusV: rh, scale: canvas.scale)
        let hairShape = EllipseCoverage(radiusU: hairU, radiusV: hairV, scale: canvas.scale)
        let inverseU = 1 / rw, inverseV = 1 / rh
        canvas.forEachPixel(u: -hairU...hairU, v: (hairCenter - hairV)...rh) { i, u, v in
            let face = faceShape.coverage(u, v)
            if face < 1 {
                canvas.blend(i, id.hair, hairShape.coverage(u, v - hairCenter))
                guard face > 0 else { return }
            }
            let nu = (u - shift) * inverseU, nv = v * inverseV
            var color = id.skin.scaled(1.04 - 0.2 * (nu * nu + nv * nv))
            if v < fringeEnd {
                let hairline = id.hairline + 0.05 * sin(u * 11)
                color = color.mixed(with: id.hair, min(max((hairline - v) * canvas.scale + 0.5, 0), 1))
            }
            canvas.blend(i, color, face)
        }
    }

    private func drawBrow(_ canvas: Canvas, side: Float) {
        let id = identity, a = actions
        let base = id.eyeHeight - id.browGap - 0.25 * a.browRaise
        let shift = yaw * 0.25
        let inner = (side * (id.eyeSpacing - id.eyeSize * 0.95) + shift, base + 0.15 * a.browTilt)
        let middle = (side * (id.eyeSpacing + id.eyeSize * 0.1) + shift, base - 0.035 - 0.04 * a.browTilt)
        let outer = (side * (id.eyeSpacing + id.eyeSize * 1.15) + shift, base + 0.01 - 0.06 * a.browTilt)
        let color = id.hair.mixed(with: id.skin, 0.15)
        canvas.strokeSegment(from: inner, to: middle, thickness: id.browThickness, color: color)
        canvas.strokeSegment(from: middle, to: outer, thickness: id.browThickness * 0.85, color: color)
        if a.browTilt > 0.25 {
            let x = side * 0.05 + shift
            canvas.strokeSegment(from: (x, base - 0.02), to: (x * 1.2, base + 0.12), thickness: 0.035,
                                 color: shadow, alpha: min((a.browTilt - 0.25) * 0.9, 0.6))
        }
    }

    private func drawEye(_ canvas: Canvas, side: Float) {
        let id = identity, a = actions
        let cu = side * id.eyeSpacing + yaw * 0.25, cv = id.eyeHeight
        let rx = id.eyeSize
        let top = max(0.004, rx * 0.52 * max(0.15, 1 + 0.9 * a.eyeOpen) * lidOpening)
        let bottom = max(0.004, rx * 0.45 * max(0.15, 1 + 0.6 * a.eyeOpen - 0.6 * max(a.cheekRaise, 0)) * lidOpening)
        let irisRadius = rx * 0.46
        let irisU = cu + gaze.0 * rx * 0.35, irisV = cv + gaze.1 * rx * 0.15
        let sclera = Color(238, 236, 230)
        let lash = Color(25, 20, 20)
        canvas.forEachPixel(u: (cu - rx - 0.03)...(cu + rx + 0.03), v: (cv - top - 0.03)...(cv + bottom + 0.03)) { i, u, v in
            let du = u - cu, dv = v - cv
            let d = Canvas.ellipseDistance(du, dv, radiusU: rx, radiusV: dv < 0 ? top : bottom)
            let inside = canvas.coverage(d)
            if inside > 0 {
                let iu = u - irisU, iv = v - irisV
                let r = (iu * iu + iv * iv).squareRoot()
                var color = sclera.mixed(with: id.iris, canvas.coverage(r - irisRadius))
                color = color.mixed(with: lash, canvas.coverage(r - irisRadius * 0.42))
                canvas.blend(i, color, inside)
            }
            let lid = dv < 0 ? 0.014 : 0.006
            canvas.blend(i, lash, 0.85 * canvas.coverage(abs(d) - Float(lid)))
        }
        if a.cheekRaise > 0.2 {
            canvas.strokeParabola(u: cu, v: cv + bottom + 0.05, halfWidth: rx * 0.8, bend: -0.03, thickness: 0.03,
                                  color: shadow, alpha: min(a.cheekRaise * 0.5, 0.5))
        }
    }

    private func drawForeheadLines(_ canvas: Canvas) {
        let strength = actions.browRaise - 0.35
        guard strength > 0 else { return }
        let top = identity.eyeHeight - identity.browGap - 0.22
        for line in 0..<3 {
            let v = top - Float(line) * 0.07
            guard v > identity.hairline + 0.06 else { continue }
            canvas.strokeParabola(u: yaw * 0.15, v: v, halfWidth: 0.32, bend: 0.025, thickness: 0.03,
                                  color: shadow, alpha: min(strength * 0.8, 0.5))
        }
    }

    private func drawNose(_ canvas: Canvas) {
        let id = identity, a = actions
        let shift = yaw * 0.4
        let tipV = id.eyeHeight + id.noseLength
        canvas.strokeSegment(from: (shift * 0.8 + 0.03, id.eyeHeight + 0.06), to: (shift + 0.04, tipV - 0.04),
                             thickness: 0.03, color: shadow, alpha: 0.35)
        canvas.fillEllipse(u: shift, v: tipV, radiusU: 0.09, radiusV: 0.06, color: id.skin.scaled(0.9), alpha: 0.6)
        let flare = 1 + 0.35 * max(a.noseWrinkle, 0)
        for side: Float in [-1, 1] {
            canvas.fillEllipse(u: shift + side * 0.065 * flare, v: tipV + 0.03, radiusU: 0.032 * flare, radiusV: 0.018,
                               color: Color(50, 30, 30), alpha: 0.75)
            let fold = 0.22 + 0.55 * max(a.cheekRaise, a.noseWrinkle * 0.8, 0)
            let mouthEdge = id.mouthHalfWidth * (1 + 0.35 * a.mouthWidth) + 0.05
            canvas.strokeSegment(from: (shift + side * 0.13 * flare, tipV + 0.01),
                                 to: (yaw * 0.3 + side * mouthEdge, id.mouthHeight + 0.04 - 0.1 * a.mouthCurve),
                                 thickness: 0.017, color: shadow, alpha: min(fold, 0.75))
        }
        if a.noseWrinkle > 0.08 {
            for line in 0..<3 {
                let v = id.eyeHeight + 0.09 + Float(line) * 0.045
                canvas.strokeParabola(u: shift * 0.8, v: v, halfWidth: 0.1, bend: 0.015, thickness: 0.03,
                                      color: shadow, alpha: min(a.noseWrinkle * 0.75, 0.75))
            }
        }
    }

    private func drawMouth(_ canvas: Canvas) {
        let id = identity, a = actions
        let cu = yaw * 0.3
        let cv = id.mouthHeight - 0.06 * max(a.noseWrinkle, 0)
        let halfWidth = id.mouthHalfWidth * (1 + 0.35 * a.mouthWidth)
        let lift = -0.3 * a.mouthCurve
        let tilt = -0.12 * a.mouthAsymmetry
        let open = 0.45 * max(a.mouthOpen, 0)
        let lip = id.lipThickness
        let inside = Color(70, 22, 28), teeth = Color(235, 230, 215)
        let reach = abs(lift) + abs(tilt) + open + 2 * lip
        canvas.forEachPixel(u: (cu - halfWidth - 0.02)...(cu + halfWidth + 0.02), v: (cv - reach)...(cv + reach)) { i, u, v in
            let x = (u - cu) / halfWidth
            let ax = min(abs(x), 1)
            let bulge = 1 - ax * ax
            let corner = lift * ax * ax + tilt * min(max(x, -1), 1)
            let upper = cv + corner - open * 0.35 * bulge
            let lower = cv + corner + open * 0.65 * bulge
            let across = (abs(u - cu) - halfWidth)
            let lipDistance = max(max(upper - lip * bulge - v, v - lower - lip * 1.2 * bulge), across)
            let lipAlpha = canvas.coverage(lipDistance)
            guard lipAlpha > 0 else { return }
            let gap = max(max(upper - v, v - lower), across)
            let teethLine = upper + (lower - upper) * 0.4
            let opening = inside.mixed(with: teeth, canvas.coverage(v - teethLine) * 0.9)
            var color = id.lips.mixed(with: opening, canvas.coverage(gap))
            color = color.mixed(with: inside, 0.8 * canvas.coverage(abs(v - (upper + lower) / 2) - 0.006) * bulge)
            canvas.blend(i, color, lipAlpha)
        }
    }
}
