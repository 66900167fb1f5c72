using System;
using System.Collections;
using System.Collections.Generic;

namespace NetQuantGen.Generator
{
    /// <summary>
    /// An array with value equality, so that pipeline values holding arrays compare by content and the
    /// incremental generator can cache them (a plain array or ImmutableArray compares by reference).
    /// The wrapped array is never exposed for writing.
    /// </summary>
    internal readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IReadOnlyList<T>
        where T : IEquatable<T>
    {
        public static readonly EquatableArray<T> Empty = new(Array.Empty<T>());

        private readonly T[]? _items;

        public EquatableArray(T[] items) => _items = items;

        public EquatableArray(IEnumerable<T> items)
        {
            var list = new List<T>(items);
            _items = list.ToArray();
        }

        public int Count => _items?.Length ?? 0;

        public T this[int index] => (_items ?? Array.Empty<T>())[index];

        /// <summary>The items as a read-only span; no copy.</summary>
        public ReadOnlySpan<T> AsSpan() => _items;

        public bool Equals(EquatableArray<T> other)
        {
            var a = _items ?? Array.Empty<T>();
            var b = other._items ?? Array.Empty<T>();
            if (ReferenceEquals(a, b)) return true;
            if (a.Length != b.Length) return false;
            var comparer = EqualityComparer<T>.Default;
            for (int i = 0; i < a.Length; i++)
                if (!comparer.Equals(a[i], b[i])) return false;
            return true;
        }

        public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

        public override int GetHashCode()
        {
            var items = _items ?? Array.Empty<T>();
            int hash = 17;
            var comparer = EqualityComparer<T>.Default;
            // Long arrays hash a bounded prefix: equality still compares every item.
            int n = Math.Min(items.Length, 64);
            for (int i = 0; i < n; i++) hash = unchecked(hash * 31 + (items[i] is null ? 0 : comparer.GetHashCode(items[i])));
            return unchecked(hash * 31 + items.Length);
        }

        public static bool operator ==(EquatableArray<T> left, EquatableArray<T> right) => left.Equals(right);

        public static bool operator !=(EquatableArray<T> left, EquatableArray<T> right) => !left.Equals(right);

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items ?? Array.Empty<T>())).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
