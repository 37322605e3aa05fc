using System.Runtime.InteropServices;

namespace Pacs.Tensors.Kernels;

/// <summary>
/// cblas_sgemm from OpenBLAS, loaded at run time with <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/>.
/// PACS_BLAS_LIBRARY names the library file; otherwise libopenblas.so.0 and its usual spellings are tried.
/// OpenBLAS's thread count follows <see cref="Parallelism.MaxDegree"/>.
/// </summary>
public static unsafe class BlasNative
{
    private const int CblasRowMajor = 101;
    private const int CblasNoTrans = 111;
    private const int CblasTrans = 112;

    private static readonly string[] s_candidates =
    [
        "libopenblas.so.0", "libopenblas.so", "/lib/x86_64-linux-gnu/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "libopenblas.dylib", "libopenblas.dll", "openblas",
    ];

    private static readonly Lazy<Library?> s_library = new(Load);
    private static int s_threadsSet;

    /// <summary>True when an OpenBLAS with cblas_sgemm was found.</summary>
    public static bool IsAvailable => s_library.Value is not null;

    /// <summary>The file that was loaded, or null.</summary>
    public static string? LibraryPath => s_library.Value?.Path;

    /// <summary>OpenBLAS's own configuration string (version, core, threading), or null.</summary>
    public static string? Config
    {
        get
        {
            var library = s_library.Value;
            if (library is null || library.GetConfig is null) return null;
            return Marshal.PtrToStringAnsi((IntPtr)library.GetConfig());
        }
    }

    /// <summary>Why loading failed: the candidates tried.</summary>
    public static string LoadFailure => $"none of {string.Join(", ", Candidates())} could be loaded or exports cblas_sgemm";

    /// <summary>cblas_sgemm in row-major order; arguments as <see cref="Gemm.Sgemm"/>, already validated.</summary>
    internal static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        var library = s_library.Value ?? throw new NotSupportedException($"native BLAS requested but {LoadFailure}");
        int degree = Parallelism.MaxDegree;
        if (library.SetNumThreads is not null && s_threadsSet != degree)
        {
            library.SetNumThreads(degree);
            s_threadsSet = degree;
        }
        library.Sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static IEnumerable<string> Candidates()
    {
        string? overridePath = Environment.GetEnvironmentVariable("PACS_BLAS_LIBRARY");
        return string.IsNullOrWhiteSpace(overridePath) ? s_candidates : [overridePath];
    }

    private static Library? Load()
    {
        foreach (string candidate in Candidates())
        {
            if (!NativeLibrary.TryLoad(candidate, out IntPtr handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "cblas_sgemm", out IntPtr sgemm))
            {
                NativeLibrary.Free(handle);
                continue;
            }
            NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out IntPtr setThreads);
            NativeLibrary.TryGetExport(handle, "openblas_get_config", out IntPtr getConfig);
            return new Library(candidate,
                (delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm,
                (delegate* unmanaged[Cdecl]<int, void>)setThreads,
                (delegate* unmanaged[Cdecl]<byte*>)getConfig);
        }
        return null;
    }

    private sealed class Library(
        string path,
        delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> sgemm,
        delegate* unmanaged[Cdecl]<int, void> setNumThreads,
        delegate* unmanaged[Cdecl]<byte*> getConfig)
    {
        public string Path { get; } = path;
        public delegate* unmanaged[Cdecl]<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm { get; } = sgemm;
        public delegate* unmanaged[Cdecl]<int, void> SetNumThreads { get; } = setNumThreads;
        public delegate* unmanaged[Cdecl]<byte*> GetConfig { get; } = getConfig;
    }
}
