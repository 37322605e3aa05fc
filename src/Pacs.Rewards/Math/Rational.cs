using System.Numerics;

namespace Pacs.Rewards.Math;

/// <summary>An exact rational number p/q (q > 0, gcd 1). Operations return null when a result would exceed
/// <see cref="MaxBits"/>, so hostile input (10^{10^{10}}) cannot exhaust memory.</summary>
public readonly record struct Rational(BigInteger Num, BigInteger Den)
{
    public const int MaxBits = 4096;

    public static readonly Rational Zero = new(BigInteger.Zero, BigInteger.One);
    public static readonly Rational One = new(BigInteger.One, BigInteger.One);

    public bool IsInteger => Den.IsOne;
    public int Sign => Num.Sign;

    public static Rational? Create(BigInteger num, BigInteger den)
    {
        if (den.IsZero) return null;
        if (den.Sign < 0) { num = -num; den = -den; }
        var g = BigInteger.GreatestCommonDivisor(num, den);
        if (!g.IsOne && !g.IsZero) { num /= g; den /= g; }
        if (num.GetBitLength() > MaxBits || den.GetBitLength() > MaxBits) return null;
        return new Rational(num, den);
    }

    public static Rational FromInt(long v) => new(v, BigInteger.One);

    public static Rational? operator +(Rational a, Rational b) => Create(a.Num * b.Den + b.Num * a.Den, a.Den * b.Den);
    public static Rational? operator -(Rational a, Rational b) => Create(a.Num * b.Den - b.Num * a.Den, a.Den * b.Den);
    public static Rational? operator *(Rational a, Rational b) => Create(a.Num * b.Num, a.Den * b.Den);
    public static Rational? operator /(Rational a, Rational b) => b.Num.IsZero ? null : Create(a.Num * b.Den, a.Den * b.Num);
    public static Rational operator -(Rational a) => new(-a.Num, a.Den);

    /// <summary>a^k for an integer k, refused when the result would exceed the bit budget.</summary>
    public static Rational? Pow(Rational a, BigInteger k)
    {
        if (k.IsZero) return One;
        if (a.Num.IsZero) return k.Sign > 0 ? Zero : null;
        if (a.Num.IsOne && a.Den.IsOne) return One;
        if (a.Num == BigInteger.MinusOne && a.Den.IsOne) return k.IsEven ? One : -One;
        long bits = System.Math.Max(a.Num.GetBitLength(), a.Den.GetBitLength());
        if (BigInteger.Abs(k) * bits > MaxBits) return null;
        int e = (int)BigInteger.Abs(k);
        var r = Create(BigInteger.Pow(a.Num, e), BigInteger.Pow(a.Den, e));
        return r is null ? null : k.Sign > 0 ? r : One / r.Value;
    }

    /// <summary>The exact n-th root when both numerator and denominator are perfect n-th powers.</summary>
    public static Rational? Root(Rational a, int n)
    {
        if (n < 1) return null;
        if (n == 1) return a;
        if (a.Sign < 0) return n % 2 == 1 && Root(-a, n) is { } r ? -r : null;
        var p = IntRoot(a.Num, n);
        var q = IntRoot(a.Den, n);
        return p is null || q is null ? null : Create(p.Value, q.Value);
    }

    private static BigInteger? IntRoot(BigInteger x, int n)
    {
        if (x.IsZero || x.IsOne) return x;
        double guess = System.Math.Round(System.Math.Exp(BigInteger.Log(x) / n));
        if (double.IsInfinity(guess) || double.IsNaN(guess)) return null;
        var g = new BigInteger(guess);
        for (int d = -2; d <= 2; d++)
        {
            var c = g + d;
            if (c.Sign > 0 && BigInteger.Pow(c, n) == x) return c;
        }
        return null;
    }

    public double ToDouble()
    {
        double n = (double)Num, d = (double)Den;
        if (!double.IsInfinity(n) && !double.IsInfinity(d)) return n / d;
        return System.Math.Exp(BigInteger.Log(BigInteger.Abs(Num)) - BigInteger.Log(Den)) * Num.Sign;
    }

    /// <summary>True when the decimal expansion terminates (denominator has only the prime factors 2 and 5).</summary>
    public bool Terminates
    {
        get
        {
            var d = Den;
            while (d.IsEven) d >>= 1;
            while ((d % 5).IsZero) d /= 5;
            return d.IsOne;
        }
    }

    /// <summary>This value rounded half away from zero to <paramref name="decimals"/> places.</summary>
    public Rational RoundTo(int decimals)
    {
        var scale = BigInteger.Pow(10, decimals);
        var scaled = Num * scale;
        var q = BigInteger.DivRem(BigInteger.Abs(scaled) * 2 + Den, Den * 2, out _);
        return Create(Num.Sign < 0 ? -q : q, scale) ?? this;
    }

    public override string ToString() => Den.IsOne ? Num.ToString() : $"{Num}/{Den}";
}
