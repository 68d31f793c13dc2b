"""Book ch. 5.4: 2 apples and 3 oranges with 10% tax, through MulLayers and an AddLayer."""
import numpy as np

from pybp.layer_naive import AddLayer, MulLayer


def main():
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple, mul_orange, add_fruit, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apple_num)
    orange_price = mul_orange.forward(orange, orange_num)
    all_price = add_fruit.forward(apple_price, orange_price)
    price = mul_tax.forward(all_price, tax)
    dall_price, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add_fruit.backward(dall_price)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    print("price:", int(np.round(price)))
    print("dApple:", dapple)
    print("dApple_num:", int(np.round(dapple_num)))
    print("dOrange:", dorange)
    print("dOrange_num:", int(np.round(dorange_num)))
    print("dTax:", dtax)
    return price, dapple, dapple_num, dorange, dorange_num, dtax


if __name__ == "__main__":
    main()
