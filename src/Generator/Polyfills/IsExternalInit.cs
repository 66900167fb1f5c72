// netstandard2.0 lacks the marker type that C# 9 records and init-only setters need.
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit { }
}
