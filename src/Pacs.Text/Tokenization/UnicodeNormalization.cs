using System.Runtime.InteropServices;
using System.Text;

namespace Pacs.Text.Tokenization;

/// <summary>NFC/NFD/NFKC/NFKD. The solution runs with InvariantGlobalization, under which string.Normalize leaves
/// non-ASCII text unchanged, so this calls the system ICU (libicuuc) directly, as .NET itself does.</summary>
public static class UnicodeNormalization
{
    private static readonly Lazy<IcuNormalizer?> Icu = new(IcuNormalizer.TryLoad);

    public static string Normalize(string text, NormalizationForm form)
    {
        if (IsStable(text, form)) return text;
        var icu = Icu.Value ?? throw new NotSupportedException(
            $"Unicode normalization {form} of non-ASCII text needs the system ICU library (libicuuc), which was not found");
        return icu.Normalize(text, form);
    }

    /// <summary>True when no character can change: all code points below U+0300 are NFC/NFD-stable and cannot combine
    /// with a preceding character; compatibility forms also change a few Latin-1 characters (e.g. U+00A0).</summary>
    private static bool IsStable(string text, NormalizationForm form)
    {
        int limit = form is NormalizationForm.FormC or NormalizationForm.FormD ? 0x300 : 0xA0;
        foreach (char c in text)
            if (c >= limit || (form == NormalizationForm.FormD && c >= 0xC0)) return false;
        return true;
    }

    private sealed unsafe class IcuNormalizer
    {
        private readonly delegate* unmanaged<int*, nint> _getNfc, _getNfd, _getNfkc, _getNfkd;
        private readonly delegate* unmanaged<nint, char*, int, char*, int, int*, int> _normalize;

        private IcuNormalizer(nint lib, string suffix)
        {
            _getNfc = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(lib, "unorm2_getNFCInstance" + suffix);
            _getNfd = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(lib, "unorm2_getNFDInstance" + suffix);
            _getNfkc = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(lib, "unorm2_getNFKCInstance" + suffix);
            _getNfkd = (delegate* unmanaged<int*, nint>)NativeLibrary.GetExport(lib, "unorm2_getNFKDInstance" + suffix);
            _normalize = (delegate* unmanaged<nint, char*, int, char*, int, int*, int>)NativeLibrary.GetExport(lib, "unorm2_normalize" + suffix);
        }

        public static IcuNormalizer? TryLoad()
        {
            string[] names = OperatingSystem.IsWindows() ? ["icuuc.dll", "icu.dll"]
                : OperatingSystem.IsMacOS() ? ["libicuuc.dylib", "/usr/lib/libicucore.dylib"]
                : ["libicuuc.so"];
            var candidates = new List<string>(names);
            if (OperatingSystem.IsLinux())
                for (int v = 90; v >= 50; v--) candidates.Add($"libicuuc.so.{v}");
            foreach (var name in candidates)
            {
                if (!NativeLibrary.TryLoad(name, out nint lib)) continue;
                foreach (var suffix in Suffixes(name))
                    if (NativeLibrary.TryGetExport(lib, "unorm2_normalize" + suffix, out _))
                        return new IcuNormalizer(lib, suffix);
            }
            return null;
        }

        private static IEnumerable<string> Suffixes(string libraryName)
        {
            yield return "";
            int dot = libraryName.LastIndexOf(".so.", StringComparison.Ordinal);
            if (dot >= 0) yield return "_" + libraryName[(dot + 4)..];
            for (int v = 90; v >= 50; v--) yield return "_" + v;
        }

        public string Normalize(string text, NormalizationForm form)
        {
            int status = 0;
            nint normalizer = form switch
            {
                NormalizationForm.FormC => _getNfc(&status),
                NormalizationForm.FormD => _getNfd(&status),
                NormalizationForm.FormKC => _getNfkc(&status),
                _ => _getNfkd(&status),
            };
            if (status > 0) throw new InvalidOperationException($"ICU could not create the {form} normalizer (status {status})");
            int capacity = text.Length * 3 + 16;
            while (true)
            {
                var buffer = new char[capacity];
                status = 0;
                int length;
                fixed (char* source = text)
                fixed (char* destination = buffer)
                    length = _normalize(normalizer, source, text.Length, destination, capacity, &status);
                const int BufferOverflowError = 15;
                if (status == BufferOverflowError) { capacity = length + 16; continue; }
                if (status > 0) throw new InvalidOperationException($"ICU normalization {form} failed (status {status})");
                return new string(buffer, 0, length);
            }
        }
    }
}
