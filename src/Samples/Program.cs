namespace X; class P { static void Main() {} }
