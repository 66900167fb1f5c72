using System;

namespace NetQuantGen.Runtime
{
    /// <summary>Thrown by generated Run methods when a buffer has the wrong length.</summary>
    public static class Guard
    {
        public static void Length(int actual, int expected, string parameter)
        {
            if (actual != expected)
                throw new ArgumentException($"Expected {expected} elements, got {actual}.", parameter);
        }
    }
}
