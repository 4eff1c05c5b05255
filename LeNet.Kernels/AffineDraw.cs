// One image's drawn transform (rotation and zoom folded into cos/zoom and sin/zoom, and a shift), and the float
// arithmetic of its inverse map and bilinear blend, written once so every implementation rounds the same way.
namespace LeNet.Kernels;

/// <summary>
/// Output pixel (x, y) samples the source at the inverse transform of its position about the centre c = (size − 1)/2:
/// u = x − c − dx, v = y − c − dy; source x = cos·u + sin·v + c, source y = cos·v − sin·u + c, where cos and sin are
/// those of the angle divided by the zoom. A positive angle turns the digit clockwise on screen (y points down).
/// </summary>
internal readonly struct AffineDraw(float cos, float sin, float dx, float dy)
{
    public readonly float Cos = cos, Sin = sin, Dx = dx, Dy = dy;

    public static AffineDraw Create(float angle, float zoom, float dx, float dy) =>
        new(ILGPU.IntrinsicMath.CPUOnly.Cos(angle) / zoom, ILGPU.IntrinsicMath.CPUOnly.Sin(angle) / zoom, dx, dy);

    public static float Centre(int size) => (size - 1) * 0.5f;

    // The SIMD kernel computes the same expressions lane by lane, in this order; keep them in step.
    public float SourceX(int x, int y, float centre) => Cos * (x - centre - Dx) + Sin * (y - centre - Dy) + centre;

    public float SourceY(int x, int y, float centre) => Cos * (y - centre - Dy) - Sin * (x - centre - Dx) + centre;

    /// <summary>Bilinear blend of the corners a (x0, y0), b (x0+1, y0), c (x0, y0+1), d (x0+1, y0+1).</summary>
    public static float Blend(float a, float b, float c, float d, float fx, float fy) =>
        (1f - fy) * ((1f - fx) * a + fx * b) + fy * ((1f - fx) * c + fx * d);
}
